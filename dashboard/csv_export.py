"""CSV answers of the read API (`format=csv`): the trace list, the cost tables, an experiment's results.

A CSV answer is the JSON answer's rows, one per line, under the same parameters and the same 400s;
only the encoding differs, so a spreadsheet and a script see the same numbers. Cells are built by
`csv_cell`: nested values (lists, objects) as compact JSON, None as an empty cell, booleans as
true/false. A text cell that starts with = + - @ (or a tab or carriage return) gets a leading `'`,
as OWASP recommends against CSV formula injection: prompts, user ids and model names come from
the monitored app's traffic, and a spreadsheet would otherwise run them as formulas. Numbers are
never prefixed (a negative number stays a number).

Rows are bounded: the trace list gives at most `CSV_MAX_ROWS` per request (the whole window up to
that by default); when more match, the `X-Llmpulse-Truncated` header says how many were left out
and `offset=` pages on. The answer is built in memory (10,000 rows is a few MB).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from flask import Response

from dashboard.params import choice_arg
from schemas.times import iso_utc

FORMAT = ("format",)  # the parameter a view that can answer CSV declares with `takes`
FORMATS = ("json", "csv")
CSV_MAX_ROWS = 10_000
CSV_TYPE = "text/csv; charset=utf-8"
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def wants_csv() -> bool:
    """`format=csv` in the request (`format=json`, or none, is the JSON answer; anything else a 400)."""
    return choice_arg("format", FORMATS, "json") == "csv"


def csv_cell(value: Any) -> str | int | float:
    """One cell: what a spreadsheet can read, and never a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return value
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return iso_utc(value)
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def csv_text(columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> str:
    """A header line of `columns`, then one line per row (a column a row lacks is an empty cell)."""
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([csv_cell(row.get(column)) for column in columns])
    return out.getvalue()


def csv_response(filename: str, columns: Sequence[str], rows: Iterable[Mapping[str, Any]],
                 headers: Mapping[str, str] | None = None) -> Response:
    """The CSV as a download named `filename` (characters unsafe in a file name become `-`)."""
    name = _UNSAFE_NAME.sub("-", filename).strip("-") or "llmpulse"
    response = Response(csv_text(columns, rows), content_type=CSV_TYPE)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    response.headers.update(headers or {})
    return response


def truncation_headers(total: int | None, offset: int, returned: int) -> dict[str, str]:
    """What a bounded answer left out: the total when it was counted, and how many rows follow these."""
    if total is None:
        return {}
    headers = {"X-Total-Count": str(total)}
    left = total - offset - returned
    if left > 0:
        headers["X-Llmpulse-Truncated"] = f"{left} more rows; ask again with offset={offset + returned}"
    return headers
