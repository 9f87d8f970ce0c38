"""Budgets: period bounds, the period-end forecast, the status a gateway polls, and validation.

Money stays `Decimal` end to end (sums never lose precision); only the JSON for the gateway
carries floats, beside exact decimal strings for anyone who needs the cents right. Periods are
calendar periods in UTC, so every process (and the gateway) agrees on when a budget resets.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from detectors.alerts.rules import AlertInputError, check_channels, check_filters, check_object

DAY, WEEK, MONTH = "day", "week", "month"
PERIODS = (DAY, WEEK, MONTH)
DEFAULT_THRESHOLDS = (50, 80, 100)
MIN_THRESHOLD, MAX_THRESHOLD = 1, 1000
MAX_THRESHOLDS = 20
MAX_AMOUNT = Decimal(1_000_000_000)
BUDGET_FILTER_KEYS = ("model", "user", "tag")
BUDGET_FIELDS = ("amount_usd", "period", "thresholds_pct", "channels", "filters", "per")
# `per`: the amount applies to each value of this dimension apart ("every user at most $X a month");
# "ingest_key": the id of the ingest key that sent the calls (`llmpulse keys list`), which ingest
# records on each span. A budget per ingest key takes a model filter only (the spend rollup's).
PER_CHOICES = ("user", "tag", "ingest_key")
PER_KEY = "ingest_key"
# What a gateway may say of a call when it asks for a budget status: the filters, and the key.
BUDGET_CALL_KEYS = (*BUDGET_FILTER_KEYS, PER_KEY)
PER_NAMES = {"user": "user", "tag": "tag", PER_KEY: "ingest key"}  # `per` in words (titles, pages)
# Below this, spent / elapsed is noise (one call a minute into the month would project absurdly).
MIN_ELAPSED_FOR_AVERAGE = timedelta(minutes=5)
MONEY_QUANTUM = Decimal("0.000001")  # a forecast is an estimate: micro-dollars are plenty
PCT_QUANTUM = Decimal("0.01")
_ZERO_USD = Decimal(0)
_MICROSECONDS_PER_HOUR = Decimal(3_600_000_000)


class BudgetError(AlertInputError):
    """A budget payload that cannot be stored as sent."""


@dataclass(frozen=True)
class BudgetSpec:
    """A validated budget; filters are sorted (key, value) pairs so specs hash and compare."""

    amount_usd: Decimal
    period: str
    thresholds_pct: tuple[int, ...] = DEFAULT_THRESHOLDS
    channels: tuple[int, ...] = ()
    filters: tuple[tuple[str, str], ...] = ()
    per: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The API shape; the float amount reads back to the same Decimal through `parse_budget`."""
        shape = {"amount_usd": float(self.amount_usd), "period": self.period,
                 "thresholds_pct": list(self.thresholds_pct), "channels": list(self.channels),
                 "filters": dict(self.filters)}
        return {**shape, "per": self.per} if self.per else shape


@dataclass(frozen=True)
class BudgetStatus:
    """The answer to "may this project still spend?" and what to notify about."""

    allowed: bool
    spent_usd: Decimal
    budget_usd: Decimal
    projected_usd: Decimal
    used_pct: Decimal
    period_start: datetime
    period_end: datetime
    crossed: tuple[int, ...]
    projected_over: bool

    def to_json(self) -> dict[str, Any]:
        """Floats for a gateway's convenience, exact strings beside them."""
        return {
            "allowed": self.allowed, "spent_usd": float(self.spent_usd), "budget_usd": float(self.budget_usd),
            "projected_usd": float(self.projected_usd), "used_pct": float(self.used_pct),
            "period_start": self.period_start.isoformat(), "period_end": self.period_end.isoformat(),
            "crossed": list(self.crossed), "projected_over": self.projected_over,
            "spent_exact": _exact(self.spent_usd), "budget_exact": _exact(self.budget_usd),
            "projected_exact": _exact(self.projected_usd),
        }


def per_value_name(per: str, value: str) -> str:
    """A value of a budget per user (tag, ingest key) in words: an ingest key is known by its id."""
    return f"key {value}" if per == PER_KEY else value


def period_bounds(period: str, now: datetime) -> tuple[datetime, datetime]:
    """The UTC calendar period containing `now`: [start, end), end being the next start."""
    midnight = _as_utc(now).replace(hour=0, minute=0, second=0, microsecond=0)
    if period == DAY:
        return midnight, midnight + timedelta(days=1)
    if period == WEEK:  # ISO weeks start on Monday
        start = midnight - timedelta(days=midnight.weekday())
        return start, start + timedelta(weeks=1)
    if period == MONTH:
        start = midnight.replace(day=1)
        return start, start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)
    raise BudgetError(_period_message(period), "period")


def forecast_spend(spent: Decimal, start: datetime, end: datetime, now: datetime,
                   recent_rate_per_hour: Decimal | None = None) -> Decimal:
    """Spend expected at period end: what is spent plus the burn rate over the time left.

    The recent rate (say, the last 6 hours), when the caller has it, reacts to a runaway agent
    within hours where the period average would lag for days. Without it, the average needs at
    least `MIN_ELAPSED_FOR_AVERAGE` of history, otherwise the forecast is the spend so far. The
    forecast never goes below what is already spent, and at or after the period end it is exact.
    """
    if now >= end:
        return spent
    rate = _burn_rate(spent, now - start, recent_rate_per_hour)
    added = _round(rate * _hours(end - max(now, start)), MONEY_QUANTUM)
    return max(spent, spent + added)


def budget_status(amount: Decimal, spent: Decimal, projected: Decimal, thresholds: Iterable[int],
                  start: datetime, end: datetime) -> BudgetStatus:
    """Reaching the budget exactly stops spending: allowed means strictly below it.

    `projected_over` uses the same rule (a forecast that reaches the budget is over it).
    """
    if amount <= 0:
        raise ValueError("a budget amount must be positive")
    projected = max(projected, spent)
    return BudgetStatus(
        allowed=spent < amount, spent_usd=spent, budget_usd=amount, projected_usd=projected,
        used_pct=_round(spent * 100 / amount, PCT_QUANTUM), period_start=start, period_end=end,
        crossed=crossed_thresholds(spent, amount, thresholds), projected_over=projected >= amount,
    )


def crossed_thresholds(spent: Decimal, amount: Decimal, thresholds: Iterable[int]) -> tuple[int, ...]:
    """Thresholds reached, compared exactly (spent * 100 >= amount * pct), never on a rounded percent."""
    return tuple(pct for pct in sorted(set(thresholds)) if spent * 100 >= amount * pct)


def new_thresholds(previous_crossed: Iterable[int], now_crossed: Iterable[int]) -> tuple[int, ...]:
    """Thresholds to notify about now: each fires once per period (pass () when a period starts)."""
    return tuple(sorted(set(now_crossed) - set(previous_crossed)))


def parse_budget(payload: Any, *, known_channels: Collection[int]) -> BudgetSpec:
    """Validate a POST body into a `BudgetSpec`, or raise `BudgetError` for its first problem."""
    body = check_object(payload, BUDGET_FIELDS, error=BudgetError)
    filters = check_filters(body.get("filters"), BUDGET_FILTER_KEYS, error=BudgetError)
    return BudgetSpec(
        amount_usd=_parse_amount(body.get("amount_usd")),
        period=_parse_period(body.get("period")),
        thresholds_pct=_parse_thresholds(body.get("thresholds_pct")),
        channels=check_channels(body.get("channels"), known_channels, error=BudgetError),
        filters=filters, per=_parse_per(body.get("per"), filters),
    )


def _parse_per(value: Any, filters: tuple[tuple[str, str], ...]) -> str | None:
    """A budget per user cannot also be the budget of one user: `per` and a filter on it conflict."""
    if value is None:
        return None
    accepted = ", ".join(f'"{choice}"' for choice in PER_CHOICES)
    if value not in PER_CHOICES:
        raise BudgetError(f"per {value!r} is not accepted; accepted: {accepted} (or leave it out)", "per")
    if any(key == value for key, _ in filters):
        raise BudgetError(f"per \"{value}\" conflicts with filters.{value}: a budget per {value} applies to each "
                          f"{value} apart; drop one of them", "per")
    if value == PER_KEY and any(key != "model" for key, _ in filters):
        raise BudgetError("a budget per ingest_key takes only a model filter (filters.model); drop "
                          f"filters.{next(key for key, _ in filters if key != 'model')}", "filters")
    return str(value)


def _parse_amount(value: Any) -> Decimal:
    """Dollars as a number or a decimal text ("12.50" keeps the cents exact)."""
    if value is None:
        raise BudgetError("amount_usd is required: a number of US dollars, e.g. 100", "amount_usd")
    amount = _to_decimal(value)
    if amount is None or not amount.is_finite():
        raise BudgetError(f"amount_usd must be a finite number of US dollars, not {value!r}", "amount_usd")
    if not _ZERO_USD < amount <= MAX_AMOUNT:
        raise BudgetError(f"amount_usd must be more than 0 and at most {MAX_AMOUNT:,}, not {value!r}",
                          "amount_usd")
    return amount


def _to_decimal(value: Any) -> Decimal | None:
    """A float goes through its shortest text, so 0.1 becomes Decimal("0.1"), not its binary expansion."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        return Decimal(repr(value) if isinstance(value, float) else value)
    except InvalidOperation:
        return None


def _parse_period(value: Any) -> str:
    if value not in PERIODS:
        raise BudgetError(_period_message(value), "period")
    return str(value)


def _period_message(value: Any) -> str:
    accepted = ", ".join(f'"{period}"' for period in PERIODS)
    if value is None:
        return f"period is required; accepted: {accepted}"
    return f"period {value!r} is not accepted; accepted: {accepted}"


def _parse_thresholds(value: Any) -> tuple[int, ...]:
    """Whole percents of the budget; order and repeats do not matter, they are normalised."""
    if value is None:
        return DEFAULT_THRESHOLDS
    if not isinstance(value, list | tuple) or len(value) > MAX_THRESHOLDS:
        raise BudgetError(f"thresholds_pct must be a list of at most {MAX_THRESHOLDS} percents, "
                          "e.g. [50, 80, 100]", "thresholds_pct")
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int) or not MIN_THRESHOLD <= item <= MAX_THRESHOLD:
            raise BudgetError(f"thresholds_pct: {item!r} is not a whole percent between {MIN_THRESHOLD} "
                              f"and {MAX_THRESHOLD}", "thresholds_pct")
    return tuple(sorted(set(value)))


def _burn_rate(spent: Decimal, elapsed: timedelta, recent_rate_per_hour: Decimal | None) -> Decimal:
    if recent_rate_per_hour is not None:
        return max(recent_rate_per_hour, _ZERO_USD)
    if elapsed < MIN_ELAPSED_FOR_AVERAGE:
        return _ZERO_USD
    return spent / _hours(elapsed)


def _hours(span: timedelta) -> Decimal:
    """Exact hours (from whole microseconds), so money arithmetic never passes through a float."""
    return Decimal(span // timedelta(microseconds=1)) / _MICROSECONDS_PER_HOUR


def _round(value: Decimal, quantum: Decimal) -> Decimal:
    """Quantize, unless the number is too large for the context (then it is already coarse)."""
    try:
        return value.quantize(quantum, rounding=ROUND_HALF_UP)
    except InvalidOperation:
        return value


def _exact(value: Decimal) -> str:
    """Plain notation: "1000", never "1E+3"."""
    return format(value, "f")


def _as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")
    return moment.astimezone(UTC)
