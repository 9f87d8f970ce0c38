"""Golden-set files (JSONL and CSV) read into checked items: what `llmpulse datasets import` and the
UI's import control share.

It sits in schemas/ beside `dataset_items`, below both the CLI (llmpulse/) and the dashboard,
which may not import llmpulse. Pure: text in, raw items out, no file system or network. Every
item is checked with the API's own `parse_item`, so a bad line is named by its line number
before anything is stored or sent.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from typing import Any

from schemas.dataset_items import ItemError, parse_item

FORMATS = {".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}


def format_of(filename: str) -> str:
    """The format from the file name's extension; an unknown one is refused rather than guessed."""
    suffix = "." + filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    found = FORMATS.get(suffix)
    if found is None:
        raise ItemError(f"{filename}: cannot tell the format from {suffix!r}; use a .jsonl or .csv file")
    return found


def parse_file_text(text: str, file_format: str, source: str) -> list[dict[str, Any]]:
    """Every item of a file's text, checked; an ItemError names the first bad line and its field."""
    records = jsonl_records(text) if file_format == "jsonl" else csv_records(text)
    items = [checked(raw, line) for line, raw in records]
    if not items:
        raise ItemError(f"{source}: no items")
    return items


def checked(raw: Any, line: int) -> Any:
    """The raw item if the API's own check accepts it, so the server will not refuse it later."""
    try:
        parse_item(raw, line)
    except ItemError as exc:
        raise ItemError(str(exc).replace(f"item {line}", f"line {line}", 1)) from exc
    return raw


def jsonl_records(text: str) -> Iterator[tuple[int, Any]]:
    """(line number, object) per non-blank line, lazily, so the first bad line is the one reported."""
    for line, row in enumerate(text.splitlines(), start=1):
        if row.strip():
            try:
                yield line, json.loads(row)
            except json.JSONDecodeError as exc:
                raise ItemError(f"line {line}: not valid JSON: {exc.msg}") from exc


def csv_records(text: str) -> Iterator[tuple[int, Any]]:
    """Columns input, expected, assertions (JSON) and metadata.KEY; empty cells are left out."""
    reader = csv.DictReader(text.splitlines(keepends=True))
    for row in reader:
        yield reader.line_num, csv_item(row, reader.line_num)


def csv_item(row: dict[str, Any], line: int) -> dict[str, Any]:
    item: dict[str, Any] = {}
    for column, cell in row.items():
        if column is None or cell in (None, ""):
            continue
        if column.startswith("metadata."):
            item.setdefault("metadata", {})[column.removeprefix("metadata.")] = cell
        elif column == "assertions":
            item["assertions"] = csv_json(cell, line, column)
        else:
            item[column] = cell
    return item


def csv_json(cell: str, line: int, column: str) -> Any:
    try:
        return json.loads(cell)
    except json.JSONDecodeError as exc:
        raise ItemError(f"line {line}: {column} is not valid JSON: {exc.msg}") from exc
