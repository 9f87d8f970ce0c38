"""Lenient value coercions for attribute values of unknown shape.

Instrumentations disagree on types (a token count as int, float or string; a list as a list
or JSON text; Langfuse JSON-quotes its metadata strings), and a malformed value must never
cost the span: every function here returns None instead of raising.
"""

from __future__ import annotations

import json
import math
import sys
from datetime import UTC, datetime, timedelta
from decimal import Context, Decimal, InvalidOperation
from typing import Any

import orjson

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_UINT = 2**63 - 1
_MAX_FLOAT_INT = int(sys.float_info.max)
_FLOAT_EXACT_MICROS = 2**32 * 10**6  # seconds below 2**32: float error < 0.5 µs
_MAX_AMOUNT = Decimal(10) ** 26  # Decimal(38, 12) holds 26 integer digits
_STORED_SCALE = Decimal("1e-12")
_DECIMAL_38 = Context(prec=38)
_TRUE = frozenset({"true", "1", "yes", "y", "on", "hit"})
_FALSE = frozenset({"false", "0", "no", "n", "off", "miss", ""})
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str)  # built once: hot path
# orjson writes what _ENCODER writes (compact, UTF-8 as is, str() for the unknown), at a tenth of the
# cost; datetimes and dataclasses go to str() as they do there. It differs only where JSON has no
# answer: NaN and infinities become null (the standard encoder writes invalid JSON), and a float may
# be spelled otherwise (1e16 for 1e+16), never valued otherwise.
_ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
# orjson reads an integer past 64 bits as a float, so a text with a run of 19 digits goes to the
# standard parser, which is exact. Found by mapping digits to "0" and the rest to " " (a C table
# lookup; a regular expression took 10x longer than the parse itself).
_DIGITS_ONLY = bytes(0x30 if 0x30 <= i <= 0x39 else 0x20 for i in range(256))
_LONG_DIGIT_RUN = b"0" * 19
_NS_SCALES = ((1e17, 1), (1e14, 1e3), (1e11, 1e6))  # above 1e17: ns, 1e14: µs, 1e11: ms, else s


def unquote(text: str) -> str:
    """Langfuse JSON-encodes metadata values ('"stop"'); undo that, keep anything else."""
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        try:
            inner = json.loads(text)
        except ValueError:
            return text
        return inner if isinstance(inner, str) else text
    return text


def as_text(value: Any) -> str | None:
    if isinstance(value, str):
        text = value.strip()
        if text[:1] == '"':
            text = unquote(text)
        return text or None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float) and not (isinstance(value, float) and not math.isfinite(value)):
        return str(value)
    return None


def as_int(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        value = parse_number(value)
    if isinstance(value, int):
        return value if 0 <= value <= _MAX_UINT else None
    if isinstance(value, float) and math.isfinite(value) and 0 <= value <= _MAX_UINT:
        return int(value)
    return None


def as_float(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        value = parse_number(value)
    if isinstance(value, int) and not -_MAX_FLOAT_INT <= value <= _MAX_FLOAT_INT:
        return None  # past float's range (math.isfinite would raise on it)
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None


def parse_number(text: str) -> int | float | None:
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return None


def as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str):
        text = unquote(value.strip()).lower()
        return True if text in _TRUE else False if text in _FALSE else None
    return None


def as_decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        amount = Decimal(repr(value)) if isinstance(value, float) else Decimal(unquote(str(value).strip()))
    except (InvalidOperation, ValueError):
        return None
    if not (amount.is_finite() and 0 <= amount < _MAX_AMOUNT):
        return None
    # The store keeps 12 places (more would be refused); 26 + 12 digits need a 38-digit context,
    # the default 28 would raise InvalidOperation for amounts from 1e16 up.
    return amount.quantize(_STORED_SCALE, context=_DECIMAL_38)


def as_str_list(value: Any) -> list[str] | None:
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            value = loads(text)
        else:
            text = unquote(text)
            return [text] if text else None
    if isinstance(value, list | tuple):
        items = [as_text(item) for item in value]
        return [item for item in items if item] or None
    return None


def as_ns(value: Any) -> int | None:
    """A timestamp as epoch ns: ISO text (maybe JSON-quoted) or a number in s/ms/µs/ns."""
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(unquote(value.strip()))
        except ValueError:
            return as_ns(parse_number(value))
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        return (moment - EPOCH) // timedelta(microseconds=1) * 1000
    number = as_float(value)
    if number is None or number <= 0:
        return None
    for limit, factor in _NS_SCALES:
        if number > limit:
            return int(number * factor)
    return int(number * 1e9)


def loads(text: Any) -> Any:
    """Parse JSON text; None on anything that is not valid JSON text.

    orjson first (message content is parsed on the ingest hot path); what its strict reading
    refuses (NaN, UTF-16 bytes, lone surrogates) or would read differently (integers past 64
    bits) the standard parser reads as it always did, so the result never depends on which
    parser answered.
    """
    if not isinstance(text, str | bytes):
        return None
    raw = text.encode(errors="surrogatepass") if isinstance(text, str) else text
    if _LONG_DIGIT_RUN not in raw.translate(_DIGITS_ONLY):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def dumps(value: Any) -> str:
    """Compact JSON that never raises on an odd value (anything unknown becomes its str())."""
    try:
        return orjson.dumps(value, default=str, option=_ORJSON_OPTIONS).decode()
    except orjson.JSONEncodeError:  # integers past 64 bits, lone surrogates, deep nesting
        pass
    try:
        return _ENCODER.encode(value)
    except (ValueError, RecursionError):  # circular structure: not from a decoder, but never raise
        return str(value)


def clip(text: str, max_chars: int) -> str:
    """Cut text to `max_chars`, leaving a visible marker that says how much was cut."""
    if len(text) <= max_chars:
        return text
    return f"{text[:max_chars]}…[truncated {len(text) - max_chars} chars]"


def utc_datetime(ns: Any) -> datetime:
    """Epoch ns → aware UTC datetime, exact to the µs.

    The float seconds are within 0.25 µs of the true value until 2106, and `fromtimestamp`
    rounds to the nearest µs, so the fast path is exact; later dates take the exact path.
    """
    try:
        micros = max(int(ns), 0) // 1000
        if micros < _FLOAT_EXACT_MICROS:
            return datetime.fromtimestamp(micros / 1e6, UTC)
        return EPOCH + timedelta(microseconds=micros)
    except (OverflowError, TypeError, ValueError, OSError):
        return EPOCH


def str_or_empty(value: Any) -> str:
    """A name-like field as text: '' for none, anything else as `str` makes it."""
    return value if isinstance(value, str) else "" if value is None else str(value)


def ns_or_zero(value: Any) -> int:
    """A time in Unix ns when it is a positive int, else 0 (unset)."""
    return value if type(value) is int and value > 0 else 0
