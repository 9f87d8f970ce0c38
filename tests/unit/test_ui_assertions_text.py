"""A golden item's checks read as sentences in the dataset table, not as the JSON the API takes."""

from __future__ import annotations

from dashboard.ui.pages.evaluations.common import assertion_lines
from schemas.dataset_items import ASSERTION_KINDS


def test_each_kind_reads_as_a_sentence() -> None:
    lines = assertion_lines({"must_contain": ["30 days", "14 days"], "must_not_contain": ["90-day"],
                             "regex": r"^\d+$", "valid_json": True})
    assert lines == ["must contain \u201c30 days\u201d, \u201c14 days\u201d", "must not contain \u201c90-day\u201d",
                     r"matches /^\d+$/", "is valid JSON"]


def test_a_long_schema_is_clipped_and_no_kind_is_left_as_raw_json() -> None:
    schema = {"type": "object", "properties": {f"field_{i}": {"type": "string"} for i in range(20)}}
    lines = assertion_lines({kind: value for kind, value in zip(ASSERTION_KINDS, (["a"], ["b"], "c", True, schema),
                                                               strict=True)})
    assert len(lines) == len(ASSERTION_KINDS) and not any(line.startswith("{") for line in lines)
    assert lines[-1].startswith("matches the JSON Schema {") and lines[-1].endswith("\u2026") and len(lines[-1]) < 110
    assert assertion_lines(None) == [] and assertion_lines({}) == []
