"""Gauges of the controls an on-call engineer watches beside the traffic: each guard's state (the
circuit breaker a gateway asks) and each SLO's error budget left. A guard's state is the one its
status endpoint would answer now (an open guard past its cool-down reads half-open); guard and SLO
names are labels a person chose, bounded by how many they defined, never by traffic."""

from __future__ import annotations

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from dashboard.prometheus.context import ScrapeContext
from detectors.alerts.guard_rules import GUARD_STATES, effective_state, state_from_json, stored_guard
from detectors.slo.status import slo_budgets_left
from schemas.metadata.alert_store import list_slos
from schemas.metadata.guard_store import GuardStore

GUARD_LABELS = ["project", "guard", "name", "state"]
SLO_LABELS = ["project", "slo", "name", "sli"]


def guard_families(ctx: ScrapeContext) -> list[Metric]:
    """`llmpulse_guard_state`: 1 for the state each guard is in, 0 for the others (a state set, so
    `llmpulse_guard_state{state="open"} == 1` alerts without knowing an encoding)."""
    family = GaugeMetricFamily("llmpulse_guard_state", "1 for the state (closed, open, half_open) a guard is in "
                               "now, as GET /api/v1/guard/status would answer; 0 for its other states",
                               labels=GUARD_LABELS)
    for guard in GuardStore(ctx.metadata).list():
        try:
            spec = stored_guard(guard.spec)
        except ValueError:
            continue  # a spec that no longer parses is reported by the detector's run
        now = effective_state(state_from_json(guard.state), spec.cooldown, ctx.now)
        for state in GUARD_STATES:
            family.add_metric([guard.project, str(guard.id), spec.rule.name, state], 1.0 if state == now else 0.0)
    return [family]


def slo_families(ctx: ScrapeContext) -> list[Metric]:
    family = GaugeMetricFamily("llmpulse_slo_error_budget_left", "Share of the SLO's error budget left over its "
                               "window (1 = untouched, 0 = spent, below 0 = overspent)", labels=SLO_LABELS)
    for slo in slo_budgets_left(ctx.store, list_slos(ctx.metadata), ctx.now):
        family.add_metric([slo["project"], str(slo["id"]), slo["name"], slo["sli"]], slo["error_budget_left"])
    return [family]
