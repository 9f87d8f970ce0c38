"""An SLO's standing at a moment: its error budget over its window and its burn rates, read from
the per-minute SLO counts in one query for any number of SLOs (`slo_counts.window_counts`).

Shared by the detector (alerts), the API (`GET /api/v1/slos`) and exporters: `slo_budgets_left`
is what a Prometheus gauge of "SLO error budget left" reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from detectors.slo.burn import BURN_WINDOWS, Budget, burn_rates, error_budget
from detectors.slo.spec import SloSpec, stored_slo
from schemas.clickhouse.slo_counts import SloQuery, window_counts
from schemas.clickhouse.store import Store
from schemas.metadata.alert_store import StoredSlo
from schemas.times import floor_minute

FILLED = "filled_at"  # state key: when the SLO's window was counted (backfilled) the first time
FILLED_FROM = "filled_from"  # state key while counting: [filled_from, now) is counted, older days not yet


@dataclass(frozen=True)
class SloStatus:
    budget: Budget
    burn: dict[str, float | None]
    filled: bool  # False until the detector has counted the SLO's window once


def counts_end(now: datetime) -> datetime:
    """Windows end after the current minute, so the newest counted calls take part."""
    return floor_minute(now) + timedelta(minutes=1)


def slo_query(stored: StoredSlo, spec: SloSpec | None = None) -> SloQuery:
    spec = spec or stored_slo(stored.spec)
    return SloQuery(stored.key, spec.sli, spec.threshold, spec.filters, spec.window)


def slo_statuses(store: Store, slos: Sequence[StoredSlo], now: datetime) -> dict[int, SloStatus]:
    """Each SLO's status at `now` (by SLO id), from one read of the counts table."""
    specs = {s.id: stored_slo(s.spec) for s in slos}
    counts = window_counts(store, [slo_query(s, specs[s.id]) for s in slos], counts_end(now), BURN_WINDOWS)
    statuses = {}
    for slo in slos:
        target, windows = specs[slo.id].target, counts[slo.key]
        burn = burn_rates({name: windows[name] for name, _ in BURN_WINDOWS}, target)
        statuses[slo.id] = SloStatus(error_budget(windows["slo"], target), burn, bool(slo.state.get(FILLED)))
    return statuses


def status_json(status: SloStatus) -> dict[str, Any]:
    """The API's figures: budget left and consumed as fractions of the budget (1.0 = untouched)."""
    budget = status.budget
    return {"error_budget_left": budget.left, "error_budget_consumed": budget.consumed,
            "good": budget.good, "total": budget.total, "sli_value": budget.sli,
            "allowed_bad": budget.allowed_bad, "counted": status.filled,
            **{f"burn_rate_{name}": rate for name, rate in status.burn.items()}}


def slo_budgets_left(store: Store, slos: list[StoredSlo], now: datetime) -> list[dict[str, Any]]:
    """Each SLO's error budget left at `now` (project, id, name, sli, error_budget_left), for
    Prometheus' `llmpulse_slo_error_budget_left`; one ClickHouse read in all."""
    statuses = slo_statuses(store, slos, now)
    return [{"project": s.project, "id": s.id, "name": s.spec["name"], "sli": s.spec["sli"],
             "error_budget_left": statuses[s.id].budget.left} for s in slos]
