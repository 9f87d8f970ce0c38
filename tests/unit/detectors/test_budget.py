"""Budgets: UTC calendar periods, the period-end forecast, the gateway's status and validation."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from detectors.alerts.budget_rules import (
    BudgetError,
    BudgetSpec,
    BudgetStatus,
    budget_status,
    crossed_thresholds,
    forecast_spend,
    new_thresholds,
    parse_budget,
    period_bounds,
)
from detectors.alerts.rules import AlertInputError

KNOWN = frozenset({1, 2})
DAY_START = datetime(2025, 6, 4, tzinfo=UTC)
DAY_END = DAY_START + timedelta(days=1)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize(("period", "now", "start", "end"), [
    ("day", utc(2025, 6, 4, 13, 30), utc(2025, 6, 4), utc(2025, 6, 5)),
    ("day", utc(2025, 6, 4), utc(2025, 6, 4), utc(2025, 6, 5)),
    ("day", utc(2025, 12, 31, 23, 59, 59), utc(2025, 12, 31), utc(2026, 1, 1)),
    ("week", utc(2025, 6, 4, 13), utc(2025, 6, 2), utc(2025, 6, 9)),  # a Wednesday
    ("week", utc(2025, 6, 2), utc(2025, 6, 2), utc(2025, 6, 9)),  # Monday midnight opens the week
    ("week", utc(2025, 6, 8, 23, 59, 59), utc(2025, 6, 2), utc(2025, 6, 9)),  # Sunday night still in it
    ("week", utc(2025, 1, 1, 8), utc(2024, 12, 30), utc(2025, 1, 6)),  # ISO week across the new year
    ("month", utc(2025, 6, 15, 9), utc(2025, 6, 1), utc(2025, 7, 1)),
    ("month", utc(2025, 6, 1), utc(2025, 6, 1), utc(2025, 7, 1)),
    ("month", utc(2025, 12, 31, 23, 59), utc(2025, 12, 1), utc(2026, 1, 1)),
    ("month", utc(2025, 1, 31, 12), utc(2025, 1, 1), utc(2025, 2, 1)),
    ("month", utc(2024, 2, 29, 12), utc(2024, 2, 1), utc(2024, 3, 1)),
    ("month", utc(2025, 11, 30, 12), utc(2025, 11, 1), utc(2025, 12, 1)),
])
def test_period_bounds(period: str, now: datetime, start: datetime, end: datetime) -> None:
    assert period_bounds(period, now) == (start, end)


def test_period_bounds_are_utc_whatever_the_zone_of_now() -> None:
    paris_morning = datetime(2025, 6, 1, 1, tzinfo=timezone(timedelta(hours=2)))  # 31 May 23:00 UTC
    assert period_bounds("day", paris_morning) == (utc(2025, 5, 31), utc(2025, 6, 1))
    assert period_bounds("month", paris_morning) == (utc(2025, 5, 1), utc(2025, 6, 1))
    assert period_bounds("day", paris_morning)[0].tzinfo is UTC


def test_period_bounds_refuse_an_unknown_period_and_a_naive_time() -> None:
    with pytest.raises(BudgetError, match="period 'year' is not accepted; accepted: \"day\", \"week\", \"month\""):
        period_bounds("year", DAY_START)
    with pytest.raises(ValueError, match="now must be a timezone-aware datetime"):
        period_bounds("day", datetime(2025, 6, 4))


@pytest.mark.parametrize(("spent", "now", "recent", "expected"), [
    ("10", DAY_START + timedelta(hours=6), None, "40"),  # 10 in 6 h → 30 more in the 18 h left
    ("10", DAY_START + timedelta(hours=6), "5", "100"),  # a runaway: 5 $/h for 18 h
    ("10", DAY_START + timedelta(hours=6), "0", "10"),  # stopped: nothing more
    ("10", DAY_START + timedelta(hours=6), "-3", "10"),  # a refund never lowers the forecast
    ("3", DAY_START + timedelta(minutes=4), None, "3"),  # tiny elapsed: no extrapolation
    ("3", DAY_START + timedelta(minutes=4), "2", "50.866667"),  # tiny elapsed: 2 $/h for the 23 h 56 m left
    ("3", DAY_START + timedelta(minutes=5), None, "864"),  # 5 min of history is enough: 3 $ per 5 min, 288 times
    ("10", DAY_END, "5", "10"),  # at the end the forecast is what was spent
    ("10", DAY_END + timedelta(hours=1), None, "10"),
    ("0", DAY_START + timedelta(hours=12), None, "0"),
    ("0", DAY_START - timedelta(hours=1), "1", "24"),  # clock before the start: the whole period left
    ("0.000001", DAY_START + timedelta(hours=12), None, "0.000002"),
])
def test_forecast_spend(spent: str, now: datetime, recent: str | None, expected: str) -> None:
    rate = None if recent is None else Decimal(recent)
    result = forecast_spend(Decimal(spent), DAY_START, DAY_END, now, rate)
    assert isinstance(result, Decimal)
    assert result == Decimal(expected)


def test_forecast_over_a_month_stays_exact_decimal() -> None:
    start, end = period_bounds("month", utc(2025, 6, 10))
    result = forecast_spend(Decimal("0.30"), start, end, utc(2025, 6, 10), None)  # 9 of 30 days gone
    assert result == Decimal("1.000000")


def _status(spent: str, projected: str = "0", amount: str = "100") -> BudgetStatus:
    return budget_status(Decimal(amount), Decimal(spent), Decimal(projected), (100, 50, 80), DAY_START, DAY_END)


@pytest.mark.parametrize(("spent", "allowed", "crossed", "used_pct"), [
    ("0", True, (), "0.00"),
    ("49.99", True, (), "49.99"),
    ("50", True, (50,), "50.00"),
    ("80.5", True, (50, 80), "80.50"),
    ("99.999999", True, (50, 80), "100.00"),  # the percent rounds up, the decision does not
    ("100", False, (50, 80, 100), "100.00"),
    ("250", False, (50, 80, 100), "250.00"),
])
def test_budget_status(spent: str, allowed: bool, crossed: tuple[int, ...], used_pct: str) -> None:
    status = _status(spent, projected=spent)
    assert (status.allowed, status.crossed, status.used_pct) == (allowed, crossed, Decimal(used_pct))


def test_projected_over_and_never_below_spent() -> None:
    assert _status("40", projected="120").projected_over is True
    assert _status("40", projected="100").projected_over is True
    assert _status("40", projected="99").projected_over is False
    assert _status("40", projected="10").projected_usd == Decimal("40")
    assert _status("120", projected="10").projected_over is True  # a stale forecast cannot hide an overrun


def test_status_json_matches_the_gateway_contract() -> None:
    body = _status("12.345678", projected="40.1").to_json()
    assert body == {
        "allowed": True, "spent_usd": 12.345678, "budget_usd": 100.0, "projected_usd": 40.1, "used_pct": 12.35,
        "period_start": "2025-06-04T00:00:00+00:00", "period_end": "2025-06-05T00:00:00+00:00",
        "crossed": [], "projected_over": False,
        "spent_exact": "12.345678", "budget_exact": "100", "projected_exact": "40.1",
    }
    assert budget_status(Decimal("1E+3"), Decimal(0), Decimal(0), (), DAY_START, DAY_END).to_json()[
        "budget_exact"] == "1000"


def test_a_budget_must_be_positive() -> None:
    with pytest.raises(ValueError, match="a budget amount must be positive"):
        _status("1", amount="0")


def test_thresholds_are_compared_exactly() -> None:
    assert crossed_thresholds(Decimal("1.5"), Decimal("3"), (50,)) == (50,)
    assert crossed_thresholds(Decimal("1.499999"), Decimal("3"), (50,)) == ()


@pytest.mark.parametrize(("previous", "now", "expected"), [
    ((), (), ()),
    ((), (50,), (50,)),
    ((50,), (50, 80, 100), (80, 100)),
    ((50, 80), (50, 80), ()),
    ((50, 80, 100), (50,), ()),  # a refund does not re-arm anything within the period
])
def test_new_thresholds_notify_each_once(previous: tuple[int, ...], now: tuple[int, ...],
                                         expected: tuple[int, ...]) -> None:
    assert new_thresholds(previous, now) == expected


VALID = {"amount_usd": 250, "period": "month", "thresholds_pct": [100, 50, 80, 80], "channels": [1],
         "filters": {"model": "gpt-4o"}}


def test_parse_budget() -> None:
    spec = parse_budget(VALID, known_channels=KNOWN)
    assert spec == BudgetSpec(amount_usd=Decimal(250), period="month", thresholds_pct=(50, 80, 100), channels=(1,),
                              filters=(("model", "gpt-4o"),))
    assert parse_budget(spec.to_json(), known_channels=KNOWN) == spec


def test_parse_budget_defaults() -> None:
    spec = parse_budget({"amount_usd": 5, "period": "day"}, known_channels=())
    assert spec == BudgetSpec(amount_usd=Decimal(5), period="day", thresholds_pct=(50, 80, 100), channels=(),
                              filters=())


@pytest.mark.parametrize(("amount", "expected"), [
    ("12.50", Decimal("12.50")), (0.1, Decimal("0.1")), (1_000_000_000, Decimal(1_000_000_000)),
    (" 7 ", Decimal(7)), (19.99, Decimal("19.99")),
])
def test_amounts_are_exact(amount: Any, expected: Decimal) -> None:
    spec = parse_budget({**VALID, "amount_usd": amount}, known_channels=KNOWN)
    assert spec.amount_usd == expected
    assert str(spec.amount_usd) == str(expected)
    assert parse_budget(spec.to_json(), known_channels=KNOWN).amount_usd == expected


AMOUNT_RANGE = "amount_usd must be more than 0 and at most 1,000,000,000"
BUDGET_ERRORS = [
    ({"amount_usd": None}, "amount_usd", "amount_usd is required: a number of US dollars, e.g. 100"),
    ({"amount_usd": 0}, "amount_usd", f"{AMOUNT_RANGE}, not 0"),
    ({"amount_usd": -5}, "amount_usd", f"{AMOUNT_RANGE}, not -5"),
    ({"amount_usd": 1_000_000_000.01}, "amount_usd", f"{AMOUNT_RANGE}, not 1000000000.01"),
    ({"amount_usd": "abc"}, "amount_usd", "amount_usd must be a finite number of US dollars, not 'abc'"),
    ({"amount_usd": "Infinity"}, "amount_usd", "amount_usd must be a finite number of US dollars, not 'Infinity'"),
    ({"amount_usd": math.nan}, "amount_usd", "amount_usd must be a finite number of US dollars, not nan"),
    ({"amount_usd": True}, "amount_usd", "amount_usd must be a finite number of US dollars, not True"),
    ({"amount_usd": [5]}, "amount_usd", "amount_usd must be a finite number of US dollars, not [5]"),
    ({"period": None}, "period", 'period is required; accepted: "day", "week", "month"'),
    ({"period": "year"}, "period", 'period \'year\' is not accepted; accepted: "day", "week", "month"'),
    ({"thresholds_pct": 80}, "thresholds_pct",
     "thresholds_pct must be a list of at most 20 percents, e.g. [50, 80, 100]"),
    ({"thresholds_pct": list(range(1, 22))}, "thresholds_pct",
     "thresholds_pct must be a list of at most 20 percents, e.g. [50, 80, 100]"),
    ({"thresholds_pct": [0]}, "thresholds_pct", "thresholds_pct: 0 is not a whole percent between 1 and 1000"),
    ({"thresholds_pct": [1001]}, "thresholds_pct", "thresholds_pct: 1001 is not a whole percent between 1 and 1000"),
    ({"thresholds_pct": [50.5]}, "thresholds_pct", "thresholds_pct: 50.5 is not a whole percent between 1 and 1000"),
    ({"thresholds_pct": ["80"]}, "thresholds_pct", "thresholds_pct: '80' is not a whole percent between 1 and 1000"),
    ({"thresholds_pct": [True]}, "thresholds_pct", "thresholds_pct: True is not a whole percent between 1 and 1000"),
    ({"channels": [7]}, "channels", "channel 7 does not exist; known channels: 1, 2"),
    ({"filters": {"service": "api"}}, "filters", "filters: unknown key 'service'; accepted: model, user, tag"),
    ({"filters": {"user": ""}}, "filters.user", "filters.user must be a non-empty text of at most 200 characters"),
    ({"amount": 5}, "amount",
     "unknown field 'amount'; accepted: amount_usd, period, thresholds_pct, channels, filters, per"),
    ({"per": "team"}, "per", 'per \'team\' is not accepted; accepted: "user", "tag", "ingest_key" (or leave it out)'),
    ({"per": "ingest_key", "filters": {"model": "gpt-4o", "tag": "beta"}}, "filters",
     "a budget per ingest_key takes only a model filter (filters.model); drop filters.tag"),
]


@pytest.mark.parametrize(("changes", "field", "message"), BUDGET_ERRORS,
                         ids=[f"{e[1]}-{i}" for i, e in enumerate(BUDGET_ERRORS)])
def test_parse_budget_refuses_with_a_clear_message(changes: dict[str, Any], field: str, message: str) -> None:
    payload = {key: value for key, value in {**VALID, **changes}.items() if value is not None}
    with pytest.raises(BudgetError) as caught:
        parse_budget(payload, known_channels=KNOWN)
    assert (caught.value.field, caught.value.message) == (field, message)
    assert isinstance(caught.value, AlertInputError) and caught.value.status == 400


def test_parse_budget_refuses_a_body_that_is_not_an_object() -> None:
    with pytest.raises(BudgetError, match="the body must be a JSON object"):
        parse_budget("100 a month", known_channels=KNOWN)


def test_an_empty_threshold_list_keeps_the_kill_switch_only() -> None:
    assert parse_budget({**VALID, "thresholds_pct": []}, known_channels=KNOWN).thresholds_pct == ()


def test_a_budget_per_user_keeps_its_per_and_plain_budgets_stay_as_they_were() -> None:
    per_user = parse_budget({"amount_usd": 5, "period": "month", "per": "user", "filters": {"tag": "beta"}},
                            known_channels=())
    assert per_user.per == "user" and per_user.to_json()["per"] == "user"
    assert parse_budget(per_user.to_json(), known_channels=()) == per_user
    assert "per" not in parse_budget({"amount_usd": 5, "period": "month"}, known_channels=()).to_json()


def test_a_budget_per_ingest_key_round_trips_with_a_model_filter() -> None:
    spec = parse_budget({**VALID, "per": "ingest_key"}, known_channels=KNOWN)
    assert (spec.per, spec.filters) == ("ingest_key", (("model", "gpt-4o"),))
    assert parse_budget(spec.to_json(), known_channels=KNOWN) == spec
