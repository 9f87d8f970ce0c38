"""Number and time formats shared by every page: $, ms/s, token counts, k/M, percentages, UTC times.

Every figure a page shows goes through here, so one amount reads the same in a tile, a table and
a chart's hover label. Python's `:g` and `:e` write tiny amounts with an exponent ("$3.6e-05"),
which nobody reads as a price: money is always written out in decimals.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

MISSING = "\u2013"  # an en dash: no value
MONEY_DIGITS = 3  # significant digits of an amount under a dollar
MAX_DECIMALS = 12  # the store keeps costs to 12 decimals (Decimal128(12))


def usd(value: Any) -> str:
    """Dollars: "$0" for nothing, cents from $1 up ("$1,234.50"), three significant digits below, without an exponent or
    trailing zeros ("$0.50", "$0.0153", "$0.000036")."""
    number = _number(value)
    if number is None:
        return MISSING
    sign, number = ("-" if number < 0 else ""), abs(number)
    if number == 0:
        return "$0"
    if number >= 1:
        return f"{sign}${number:,.2f}"
    decimals = min(MONEY_DIGITS - 1 - math.floor(math.log10(number)), MAX_DECIMALS)
    text = f"{number:.{decimals}f}".rstrip("0")
    if text == "0.":
        return f"{sign}<$0.{'0' * (MAX_DECIMALS - 1)}1"
    whole, fraction = text.split(".")
    return f"{sign}${whole}.{fraction.ljust(2, '0')}"


def ms(value: Any) -> str:
    """A duration in milliseconds as ms below ten seconds ("0.4 ms", "1,250 ms"), as alert messages
    write it (detectors.notify.message), else in seconds ("12.5 s")."""
    number = _number(value)
    if number is None:
        return MISSING
    if abs(number) >= 10_000:
        return f"{number / 1000:,.1f} s"
    if abs(number) < 10 and number != int(number):
        return f"{number:.1f} ms"
    return f"{number:,.0f} ms"


def full(value: Any) -> str:
    """A count in full, with thousands separators ("12,345"): what a table column shows, where
    the rows are compared digit by digit (a tile, which has no room, shortens it: `count`)."""
    number = _number(value)
    return MISSING if number is None else f"{number:,.0f}"


tokens = full  # token counts are always written in full


def count(value: Any) -> str:
    """A count in a tile, shortened from a thousand up ("12.3k")."""
    number = _number(value)
    if number is None:
        return MISSING
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(number) >= limit:
            return f"{number / limit:.1f}{suffix}"
    return f"{number:,.0f}"


def pct(value: Any) -> str:
    """A fraction as a percentage ("0.032" reads "3.2%")."""
    number = _number(value)
    return MISSING if number is None else f"{number * 100:.1f}%"


def score(value: Any) -> str:
    """A score or a mean of scores: at most three significant digits, never an exponent."""
    number = _number(value)
    if number is None:
        return MISSING
    if number == 0 or abs(number) >= 0.001:
        return f"{number:,.3f}".rstrip("0").rstrip(".") if abs(number) < 1000 else f"{number:,.0f}"
    return "< 0.001" if number > 0 else "> -0.001"


def when(value: Any, zone: bool = True) -> str:
    """Times are shown in UTC; `zone=False` where a column header says so once."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        return MISSING
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S" + (" UTC" if zone else ""))


def _number(value: Any) -> float | None:
    """A float, or None for no value (None, NaN, or text that is not a number)."""
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def plain(value: Any) -> str:
    """Any stored field as a reader wants it: a list as "a, b", a float without an exponent, no value
    as a dash; for tables of raw fields (a span's), where str() would print "7.7e-06" or "['stop']"."""
    if value is None or value == [] or value == ():
        return MISSING
    if isinstance(value, list | tuple):
        return ", ".join(plain(v) for v in value)
    if isinstance(value, float | Decimal) and not isinstance(value, bool):
        number = float(value)
        return MISSING if math.isnan(number) else f"{number:,.12f}".rstrip("0").rstrip(".") or "0"
    return str(value)
