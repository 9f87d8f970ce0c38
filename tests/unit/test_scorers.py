"""Deterministic scorers of an experiment's answers (evals/scorers.py)."""

from __future__ import annotations

import pytest

from evals.scorers import item_passed, normalize_text, parse_json, score_answer


def by_name(checks):
    return {check.name: check for check in checks}


@pytest.mark.parametrize(("output", "expected", "met"), [
    ("Paris", "Paris", True),
    ("The capital of France is Paris.", "paris", True),
    ("  PARIS!! ", "Paris", True),
    ("Parisian food", "Paris", False),  # a whole word, not a prefix
    ("Lyon", "Paris", False),
    ("", "Paris", False),
])
def test_expected_match_is_normalized_and_whole_word(output: str, expected: str, met: bool) -> None:
    checks = by_name(score_answer(output, expected, {}))
    assert checks["expected_match"].passed is met
    assert checks["exact_match"].passed is (output == expected)
    assert item_passed(list(checks.values())) is met


def test_expected_match_informative_when_a_judge_decides() -> None:
    checks = score_answer("Lyon", "Paris", {}, expected_gates=False)
    assert item_passed(checks) is True
    assert by_name(checks)["expected_match"].value == 0.0


def test_assertions_gate_and_say_why() -> None:
    assertions = {"must_contain": ["refund", "30 days"], "must_not_contain": ["guarantee"], "regex": r"\d+ days"}
    good = score_answer("A refund is possible within 30 days.", None, assertions)
    assert item_passed(good) and len(good) == 3
    bad = by_name(score_answer("We guarantee a refund.", None, assertions))
    assert bad["must_contain"].reason == "missing '30 days'"
    assert bad["must_not_contain"].reason == "contains 'guarantee'"
    assert bad["regex"].value == 0.0
    assert not item_passed(list(bad.values()))


@pytest.mark.parametrize(("output", "ok"), [
    ('{"answer": 4}', True), ('```json\n{"answer": 4}\n```', True), ("Sure! {\"answer\": 4}", False),
    ('{"answer": 4', False), ("", False),
])
def test_valid_json_is_a_structured_output_parse_check(output: str, ok: bool) -> None:
    (check,) = score_answer(output, None, {"valid_json": True})
    assert check.passed is ok and (check.reason == "") is ok


def test_json_schema_names_where_the_answer_breaks_it() -> None:
    schema = {"type": "object", "required": ["answer"], "properties": {"answer": {"type": "integer"}}}
    assert item_passed(score_answer('{"answer": 4}', None, {"json_schema": schema}))
    (wrong_type,) = score_answer('{"answer": "four"}', None, {"json_schema": schema})
    assert not wrong_type.passed and wrong_type.reason.startswith("breaks the schema at /answer:")
    (not_json,) = score_answer("four", None, {"json_schema": schema})
    assert not_json.reason.startswith("not valid JSON")


def test_no_gating_check_passes_an_answered_item() -> None:
    assert item_passed(score_answer("anything", None, {})) is True


def test_normalize_and_parse_helpers() -> None:
    assert normalize_text("\uff30\uff41\uff52\uff49\uff53, France!") == "paris france"
    assert parse_json("[1, 2]") == ([1, 2], None)
