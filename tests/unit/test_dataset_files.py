"""The golden-set file readers the CLI and the UI's import share, and the UI's upload decoding."""

from __future__ import annotations

import base64

import pytest

from dashboard.ui.pages.evaluations.dataset_import import read_upload
from schemas.dataset_files import format_of, parse_file_text
from schemas.dataset_items import ItemError


def upload(text: str | bytes) -> str:
    data = text.encode() if isinstance(text, str) else text
    return "data:application/octet-stream;base64," + base64.b64encode(data).decode()


def test_the_format_comes_from_the_extension() -> None:
    assert [format_of(n) for n in ("a.JSONL", "b.ndjson", "c.csv")] == ["jsonl", "jsonl", "csv"]
    with pytest.raises(ItemError, match="cannot tell the format"):
        format_of("items.txt")


def test_csv_columns_become_items_and_a_bad_line_is_named() -> None:
    text = 'input,expected,assertions,metadata.topic\nq1,a1,"{""regex"": ""a""}",geo\nq2,,,\n'
    assert parse_file_text(text, "csv", "f.csv") == [
        {"input": "q1", "expected": "a1", "assertions": {"regex": "a"}, "metadata": {"topic": "geo"}},
        {"input": "q2"}]
    with pytest.raises(ItemError, match="line 2: input is required"):
        parse_file_text('{"input": "ok"}\n{"expected": "x"}\n', "jsonl", "f.jsonl")


def test_an_upload_is_decoded_checked_and_refused_when_not_text() -> None:
    items = read_upload(upload('\ufeff{"input": "q", "expected": "a"}\n'), "set.jsonl")  # a BOM is dropped
    assert [(i.input, i.expected) for i in items] == [("q", "a")]
    with pytest.raises(ItemError, match="UTF-8"):
        read_upload(upload(b"\xff\xfe\x00bad"), "set.csv")
    with pytest.raises(ItemError, match="no items"):
        read_upload(upload("\n\n"), "set.jsonl")
