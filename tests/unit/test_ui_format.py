"""The number formats every page uses: money never in an exponent, durations with units, counts in full."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from dashboard.ui import format as fmt

EXPONENT = re.compile(r"\d\.?\d*e-\d")


@pytest.mark.parametrize(("value", "shown"), [
    (0, "$0"), (Decimal("0"), "$0"), (2.62e-7, "$0.000000262"), (3.6e-5, "$0.000036"), (9.73e-5, "$0.0000973"),
    (Decimal("0.000036"), "$0.000036"), (0.0153, "$0.0153"), (0.5, "$0.50"), (0.9996, "$1.00"), (1, "$1.00"),
    (1234.5, "$1,234.50"), (-0.25, "-$0.25"), (1e-15, "<$0.000000000001"), (None, fmt.MISSING),
    (float("nan"), fmt.MISSING),
])
def test_money_reads_in_decimals_at_every_magnitude(value: object, shown: str) -> None:
    assert fmt.usd(value) == shown
    assert not EXPONENT.search(fmt.usd(value))


@pytest.mark.parametrize(("value", "shown"), [
    (0, "0 ms"), (0.4, "0.4 ms"), (3, "3 ms"), (125.6, "126 ms"), (1250, "1,250 ms"), (9_999, "9,999 ms"),
    (12_540, "12.5 s"), (1_250_000, "1,250.0 s"), (None, fmt.MISSING),
])
def test_durations_carry_their_unit(value: object, shown: str) -> None:
    assert fmt.ms(value) == shown


@pytest.mark.parametrize(("value", "shown"), [(0, "0"), (999, "999"), (12_345, "12,345"), (1_234_567, "1,234,567"),
                                              (None, fmt.MISSING)])
def test_token_counts_have_thousands_separators(value: object, shown: str) -> None:
    assert fmt.tokens(value) == shown


@pytest.mark.parametrize(("value", "shown"), [(0.032, "3.2%"), (0.6, "60.0%"), (None, fmt.MISSING)])
def test_fractions_read_as_percentages(value: object, shown: str) -> None:
    assert fmt.pct(value) == shown


@pytest.mark.parametrize(("value", "shown"), [(0.8567, "0.857"), (1, "1"), (0, "0"), (0.00002, "< 0.001"),
                                              (None, fmt.MISSING)])
def test_scores_have_three_decimals_at_most_and_no_exponent(value: object, shown: str) -> None:
    assert fmt.score(value) == shown


def test_times_say_utc_unless_the_header_does() -> None:
    moment = datetime(2026, 12, 7, 13, 5, 9, tzinfo=UTC)
    assert fmt.when(moment) == "2026-12-07 13:05:09 UTC"
    assert fmt.when(moment.isoformat(), zone=False) == "2026-12-07 13:05:09"
    assert fmt.when(None) == fmt.MISSING


@pytest.mark.parametrize(("value", "shown"), [(7.7e-06, "0.0000077"), (Decimal("0.000012300000"), "0.0000123"),
                                              (["stop"], "stop"), (["stop", "length"], "stop, length"),
                                              ([], fmt.MISSING), (None, fmt.MISSING), (12, "12"), ("unset", "unset"),
                                              (0.0, "0")])
def test_raw_fields_read_without_an_exponent_or_a_list_repr(value: object, shown: str) -> None:
    assert fmt.plain(value) == shown
