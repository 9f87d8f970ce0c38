"""Token counts and costs no call can have: which attribute values are refused, and why.

A token count is a count of one call's tokens, and the largest context windows hold ~10M
tokens, so a number above `max_count` (a setting, far above that), a negative one or NaN is
not a count but a bug or an attack: priced, 2^63 tokens become trillions of dollars that stop
a budget, and the UInt64 sums wrap. Such a value is refused, never clamped: the span is kept,
the count is stored as NULL (unknown, not 0), and the reason is said twice, in the OTLP
response's `partial_success` before the ack and on the span (`llmpulse.refused`).

A reported cost above MAX_REPORTED_COST is refused the same way (that attribute is not used):
two reported costs of 9e25 would wrap the Decimal(38, 12) sums of spend negative.

One rule serves both places: the edge (`collector.check.check_traces`, before the ack) and
normalization (after it) call `refused_values` on the same attribute values, so what the
response says was refused is exactly what is stored as NULL.
"""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation
from typing import Any

from collector.coerce import as_decimal, loads, parse_number, unquote
from collector.reader import dig
from schemas import conventions as cv
from schemas import fields as f

REFUSED_ATTRIBUTE = f.REFUSED_ATTRIBUTE  # on the stored span: which counts were refused and why
DEFAULT_MAX_COUNT = 100_000_000  # 10x the largest context window (~10M tokens) of 2026
REFUSED = -1  # what `read_count` returns for a refused value (a count is never negative)
# USD. The dearest real call (10M tokens at the dearest list price) costs a few thousand dollars;
# 10^20 calls of this much still fit the Decimal(38, 12) sums.
MAX_REPORTED_COST = Decimal(1_000_000)
_Paths = dict[str, tuple[tuple[str, ...], ...]]


def _sources_of(fields: tuple[str, ...]) -> _Paths:
    """Attribute name → the JSON paths inside it that hold `fields` (`()` for the value itself)."""
    found: _Paths = {}
    for field in fields:
        for source in cv.FIELD_SOURCES.get(field, ()):
            paths = found.get(source.key, ())
            if source.path not in paths:
                found[source.key] = (*paths, source.path)
    return found


COUNT_SOURCES = _sources_of((*f.TOKEN_FIELDS, *f.AUDIO_TOKEN_FIELDS))
COUNT_KEYS = frozenset(COUNT_SOURCES)
COST_SOURCES = _sources_of((f.COST_REPORTED,))
COST_KEYS = frozenset(COST_SOURCES)
CHECKED_KEYS = COUNT_KEYS | COST_KEYS


def read_count(value: Any, max_count: int) -> int | None:
    """A token count: an int, None when the value is no number at all (absent, text, a list),
    REFUSED when it is a number no call can have. Fractions are cut, as `as_int` always did."""
    number = parse_number(value) if isinstance(value, str) else value
    if isinstance(number, bool) or not isinstance(number, int | float):
        return None
    if isinstance(number, float) and not math.isfinite(number):
        return REFUSED
    return int(number) if 0 <= number <= max_count else REFUSED


def read_cost(value: Any) -> Decimal | None:
    """A reported cost (`as_decimal`), None when it is none or more than one call can cost."""
    amount = as_decimal(value)
    return amount if amount is None or amount <= MAX_REPORTED_COST else None


def refused_values(key: str, value: Any, max_count: int) -> list[str]:
    """Why the count or cost attribute `key` holding `value` is refused, one reason per refused
    number (a JSON attribute may hold several); empty when it is fine or not such an attribute."""
    reasons = []
    blob = None
    for path in COUNT_SOURCES.get(key, ()) + COST_SOURCES.get(key, ()):
        if path:
            blob = _parse_blob(value) if blob is None else blob
            raw = dig(blob, path)
        else:
            raw = value
        name = f"{key}.{'.'.join(path)}".replace(f".{cv.SUM_OF_PARTS}", " (sum of its parts)") if path else key
        if key in COST_KEYS and _too_costly(raw):
            reasons.append(f"{name}={_shown(raw)} is not the cost of one call (at most ${MAX_REPORTED_COST:,})")
        elif key in COUNT_KEYS and read_count(raw, max_count) == REFUSED:
            reasons.append(f"{name}={_shown(raw)} is not a token count (0 to {max_count} a call)")
    return reasons


def _too_costly(value: Any) -> bool:
    """A number above MAX_REPORTED_COST, however large (as_decimal drops what storage cannot hold)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        return False
    try:
        amount = Decimal(repr(value)) if isinstance(value, float) else Decimal(unquote(str(value).strip()))
    except (InvalidOperation, ValueError):
        return False
    return amount.is_finite() and amount > MAX_REPORTED_COST


def span_refusals(attrs: dict[str, Any], keys: Any, max_count: int) -> list[str]:
    """Reasons for every refused count among `keys` (count attributes the span has), in name order
    whatever order the keys come in, so the edge and the stored span say the same."""
    return [reason for key in sorted(keys) for reason in refused_values(key, attrs[key], max_count)]


def _parse_blob(value: Any) -> Any:
    return value if isinstance(value, dict | list) else loads(value) if isinstance(value, str) else {}


def _shown(value: Any) -> str:
    text = str(value) if isinstance(value, Decimal) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
