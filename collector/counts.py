"""Token counts no call can have: which attribute values are refused as counts, and why.

A token count is a count of one call's tokens, and the largest context windows hold ~10M
tokens, so a number above `max_count` (a setting, far above that), a negative one or NaN is
not a count but a bug or an attack: priced, 2^63 tokens become trillions of dollars that stop
a budget, and the UInt64 sums wrap. Such a value is refused, never clamped: the span is kept,
the count is stored as NULL (unknown, not 0), and the reason is said twice, in the OTLP
response's `partial_success` before the ack and on the span (`llmpulse.refused`).

One rule serves both places: the edge (`collector.decode.check_traces`, before the ack) and
normalization (after it) call `refused_values` on the same attribute values, so what the
response says was refused is exactly what is stored as NULL.
"""

from __future__ import annotations

import math
from typing import Any

from collector.coerce import loads, parse_number
from schemas import conventions as cv
from schemas import fields as f

REFUSED_ATTRIBUTE = "llmpulse.refused"  # on the stored span: which counts were refused and why
DEFAULT_MAX_COUNT = 100_000_000  # 10x the largest context window (~10M tokens) of 2026
REFUSED = -1  # what `read_count` returns for a refused value (a count is never negative)


def _count_sources() -> dict[str, tuple[tuple[str, ...], ...]]:
    """Attribute name → the JSON paths inside it that hold token counts (`()` for the value itself)."""
    found: dict[str, tuple[tuple[str, ...], ...]] = {}
    for field in f.TOKEN_FIELDS:
        for source in cv.FIELD_SOURCES.get(field, ()):
            paths = found.get(source.key, ())
            if source.path not in paths:
                found[source.key] = (*paths, source.path)
    return found


COUNT_SOURCES = _count_sources()
COUNT_KEYS = frozenset(COUNT_SOURCES)


def read_count(value: Any, max_count: int) -> int | None:
    """A token count: an int, None when the value is no number at all (absent, text, a list),
    REFUSED when it is a number no call can have. Fractions are cut, as `as_int` always did."""
    number = parse_number(value) if isinstance(value, str) else value
    if isinstance(number, bool) or not isinstance(number, int | float):
        return None
    if isinstance(number, float) and not math.isfinite(number):
        return REFUSED
    return int(number) if 0 <= number <= max_count else REFUSED


def refused_values(key: str, value: Any, max_count: int) -> list[str]:
    """Why the count attribute `key` holding `value` is refused, one reason per refused count
    (a JSON attribute may hold several); empty when it is fine or no count attribute."""
    paths = COUNT_SOURCES.get(key)
    if not paths:
        return []
    reasons = []
    blob = None
    for path in paths:
        if path:
            blob = _parse_blob(value) if blob is None else blob
            raw = _dig(blob, path)
        else:
            raw = value
        if read_count(raw, max_count) == REFUSED:
            name = f"{key}.{'.'.join(path)}" if path else key
            reasons.append(f"{name}={_shown(raw)} is not a token count (0 to {max_count} a call)")
    return reasons


def span_refusals(attrs: dict[str, Any], keys: Any, max_count: int) -> list[str]:
    """Reasons for every refused count among `keys` (count attributes the span has), in name order
    whatever order the keys come in, so the edge and the stored span say the same."""
    return [reason for key in sorted(keys) for reason in refused_values(key, attrs[key], max_count)]


def _parse_blob(value: Any) -> Any:
    return value if isinstance(value, dict | list) else loads(value) if isinstance(value, str) else {}


def _dig(node: Any, path: tuple[str, ...]) -> Any:
    for step in path:
        if not isinstance(node, dict):
            return None
        node = node.get(step)
    return node


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
