"""Number and time formats shared by every page: $, ms, k/M, percentages, UTC times."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

MISSING = "\u2013"  # an en dash: no value


def usd(value: Any) -> str:
    if value is None:
        return MISSING
    number = float(value)
    if number == 0:
        return "$0"
    if abs(number) >= 1:
        return f"${number:,.2f}"
    if abs(number) >= 0.0001:
        return f"${number:.4f}"
    # A fraction of a cent per call: three significant digits, in decimals ("$0.0000519", not "$5.19e-05").
    return f"${number:.{min(2 - math.floor(math.log10(abs(number))), 12)}f}"


def ms(value: Any) -> str:
    if value is None:
        return MISSING
    number = float(value)
    return f"{number / 1000:,.2f} s" if number >= 10_000 else f"{number:,.0f} ms"


def count(value: Any) -> str:
    if value is None:
        return MISSING
    number = float(value)
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(number) >= limit:
            return f"{number / limit:.1f}{suffix}"
    return f"{number:,.0f}"


def pct(value: Any) -> str:
    return MISSING if value is None else f"{float(value) * 100:.1f}%"


def when(value: Any) -> str:
    """Times are shown in UTC, and say so."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        return MISSING
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
