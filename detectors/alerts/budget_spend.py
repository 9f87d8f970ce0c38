"""Budget status from ClickHouse spend: used by the alerts detector and the gateway kill switch."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from detectors.alerts.budget_rules import (
    BudgetSpec,
    BudgetStatus,
    budget_status,
    forecast_spend,
    parse_budget,
    period_bounds,
)
from schemas.clickhouse.metrics import RollupSpan, SeriesQuery, grouped_values, window_values
from schemas.clickhouse.spend_rollup import SpendQuery, spend_by_value
from schemas.clickhouse.store import Store
from schemas.metadata.alert_store import AlertStore, StoredSpec
from schemas.metadata.guard_store import BUDGET_VERDICTS_KEY
from schemas.metadata.runs import StateStore

# The burn rate behind the forecast: recent enough to see a runaway agent within hours.
RECENT_WINDOW = timedelta(hours=6)
# A budget per user (or tag) reads at most this many values a tick, the biggest spenders first.
MAX_VALUES_READ = 10_000


def spend(store: Store, project: str, start: datetime, end: datetime, filters: dict[str, str],
          rollup: RollupSpan | None) -> Decimal:
    query = SeriesQuery(project, ("cost_total",), start, end, filters=filters)
    return Decimal(str(window_values(store, query, rollup)["cost_total"] or 0))


def compute_budget_status(store: Store, project: str, spec: BudgetSpec, now: datetime,
                          rollup: RollupSpan | None, value: str | None = None) -> BudgetStatus:
    """The budget's status now. A budget `per` user or tag answers for `value` (that user's spend
    against the amount); without a value, for the value that spent the most (what the pages and
    rules on `budget_used_pct` show; a gateway asks `status_for_call`, which never blocks a call
    for another user's spend)."""
    if spec.per and value is None:
        return tightest_status(store, project, spec, now, rollup)
    read = _spend_reader(store, project, spec, value, rollup)
    start, end = period_bounds(spec.period, now)
    spent = read(start, now)
    recent_start = max(start, now - RECENT_WINDOW)
    recent_hours = Decimal((now - recent_start).total_seconds()) / 3600
    recent = read(recent_start, now)
    rate = recent / recent_hours if recent_hours > Decimal("0.25") else None
    projected = forecast_spend(spent, start, end, now, rate)
    return budget_status(spec.amount_usd, spent, projected, spec.thresholds_pct, start, end)


def _spend_reader(store: Store, project: str, spec: BudgetSpec, value: str | None,
                  rollup: RollupSpan | None) -> Callable[[datetime, datetime], Decimal]:
    """How a budget's spend over [start, end) is read: one value of a budget per user (tag) from the
    spend rollup plus the raw tail (a month of one user's raw calls would merge the month's calls);
    anything else, or a per budget with filters the spend rollup lacks, through the call metrics."""
    filters = dict(spec.filters)
    if spec.per and value is not None and set(filters) <= {"model"}:
        whole, per, model = _spend_whole(rollup), spec.per, filters.get("model")
        return lambda start, end: sum((spent for _, spent in spend_by_value(
            store, SpendQuery(project, per, start, end, model, 1, value), whole)), Decimal(0))
    if spec.per and value is not None:
        filters[spec.per] = value
    return lambda start, end: spend(store, project, start, end, filters, rollup)


def _spend_whole(rollup: RollupSpan | None) -> tuple[datetime, datetime] | None:
    """Where the spend rollup is complete (None: read raw calls)."""
    return (rollup.spend_start, rollup.end) if rollup and rollup.spend_start else None


def status_for_call(store: Store, project: str, spec: BudgetSpec, call: dict[str, str], now: datetime,
                    rollup: RollupSpan | None) -> BudgetStatus | None:
    """The status a call is held to; None for a budget per user (tag) when the call names none."""
    if spec.per and not call.get(spec.per):
        return None
    return compute_budget_status(store, project, spec, now, rollup, call.get(spec.per) if spec.per else None)


def value_spends(store: Store, project: str, spec: BudgetSpec, now: datetime,
                 rollup: RollupSpan | None) -> list[tuple[str, Decimal]]:
    """Each value's spend this period, biggest first (at most `MAX_VALUES_READ`); calls without a
    user (tag) belong to no user's budget."""
    start, _ = period_bounds(spec.period, now)
    filters = dict(spec.filters)
    if set(filters) <= {"model"} and spec.per:  # the spend rollup's keys: whole hours from it, the rest raw
        return spend_by_value(store, SpendQuery(project, spec.per, start, now, filters.get("model"),
                                                MAX_VALUES_READ), _spend_whole(rollup))
    query = SeriesQuery(project, ("cost_total",), start, now, group_by=spec.per, filters=filters)
    rows = grouped_values(store, query, rollup, order="`cost_total` DESC, key", limit=MAX_VALUES_READ,
                          tag="budget_value_spends")
    return [(str(row["key"]), Decimal(str(row["cost_total"] or 0))) for row in rows if row["key"]]


def value_statuses(spec: BudgetSpec, spends: list[tuple[str, Decimal]],
                   now: datetime) -> list[tuple[str, BudgetStatus]]:
    """Each value's status from one grouped read (`value_spends`), in its order; the forecast is the
    period average (a recent rate per value would cost a read per value)."""
    start, end = period_bounds(spec.period, now)
    return [(value, budget_status(spec.amount_usd, spent, forecast_spend(spent, start, end, now),
                                  spec.thresholds_pct, start, end)) for value, spent in spends]


def tightest_status(store: Store, project: str, spec: BudgetSpec, now: datetime,
                    rollup: RollupSpan | None) -> BudgetStatus:
    """The status of the value that spent the most; nothing spent when no value has a call yet."""
    spends = value_spends(store, project, spec, now, rollup)
    if spends:
        return compute_budget_status(store, project, spec, now, rollup, spends[0][0])
    return empty_status(spec, now)


def empty_status(spec: BudgetSpec, now: datetime) -> BudgetStatus:
    start, end = period_bounds(spec.period, now)
    return budget_status(spec.amount_usd, Decimal(0), Decimal(0), spec.thresholds_pct, start, end)


def stored_budget(stored: StoredSpec) -> BudgetSpec:
    """A stored budget's spec; its channels are trusted, they were checked when it was saved."""
    return parse_budget(stored.spec, known_channels=set(stored.spec.get("channels") or ()))


def project_budgets(store: Store, alerts: AlertStore, project: str, now: datetime,
                    rollup: RollupSpan | None) -> list[tuple[StoredSpec, BudgetSpec, BudgetStatus]]:
    """Every budget of a project with where it stands now: for the kill switch and the pages."""
    specs = [(b, stored_budget(b)) for b in alerts.list_budgets(project)]
    return [(b, spec, compute_budget_status(store, project, spec, now, rollup)) for b, spec in specs]


def budget_record(stored: StoredSpec, status: BudgetStatus, over: list[str], now: datetime) -> dict[str, Any]:
    """A budget's result of one alerts tick, saved once for its two readers: the guard status (whom
    it covers, whether it still allows spending; a budget per user, tag or ingest key: which values
    spent theirs, `over`) and a Prometheus scrape (its figures), neither of which sums spend itself.
    The detector saves a tick's records once (`GuardStore.save_budget_verdicts`)."""
    record = {"id": stored.id, "project": stored.project, "filters": stored.spec.get("filters") or {},
              "period": stored.spec.get("period", ""), "computed_at": now.isoformat(), **status.to_json()}
    return {**record, "per": stored.spec["per"], "over": over} if stored.spec.get("per") else record


def saved_statuses(state: StateStore) -> dict[int, dict[str, Any]]:
    """Budget id → its record as the alerts detector last computed it (empty before its first run;
    a record saved before the figures joined the verdicts, an upgrade's first tick, is left out)."""
    try:
        records = json.loads(state.get(BUDGET_VERDICTS_KEY) or "[]")
        return {int(r["id"]): r for r in records if isinstance(r, dict) and "spent_exact" in r}
    except (ValueError, TypeError, KeyError):
        return {}
