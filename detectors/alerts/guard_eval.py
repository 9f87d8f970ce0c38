"""Guards on the alerts detector's tick: read their signals, step their breakers, raise incidents.

Reads are grouped: guards of one project and window share one query that reads all their metrics
for all their scopes (filters) at once (`scoped_window_values`; rollups, or raw calls when a
scope names a user), so fifty guards over ten scopes and two windows cost two to four queries.
Metrics that are not rollup columns (hallucination rate, drift, budget metrics) are read as the
alert rules read them. Each state change is an incident: opening fires it and notifies the
guard's channels, half-open is written on its timeline, closing resolves it and sends the
all-clear. The budgets' verdicts of the same tick are saved by the detector (`budget_spend.budget_record`,
one save that /metrics reads too), and the status endpoint answers the budget kill switch from memory.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime
from typing import TYPE_CHECKING, Any

from detectors.alerts.guard_rules import CLOSED, HALF_OPEN, OPEN, GuardSpec, GuardState, state_from_json, step_guard
from detectors.alerts.guard_rules import stored_guard as parse_stored
from detectors.alerts.incidents import FIRING, RESOLVED, IncidentState
from detectors.alerts.rules import format_duration
from detectors.base import DetectorContext
from schemas.clickhouse.metrics import METRICS as ROLLUP_METRICS
from schemas.clickhouse.metrics import ROLLUP_DIMENSIONS, SeriesQuery, window_values
from schemas.clickhouse.rollup import rollup_span
from schemas.clickhouse.scoped_metrics import scoped_window_values
from schemas.metadata.guard_store import GuardStore, StoredGuard

if TYPE_CHECKING:  # the detector imports this module; at run time it hands itself in
    from detectors.alerts.detector import AlertsDetector

log = logging.getLogger(__name__)

Batch = tuple[str, Any, str, tuple[tuple[str, str], ...]]  # project, window, kind of read, a tag scope's filters
ROLLUP_KEYS = set(ROLLUP_DIMENSIONS)


class GuardEvaluator:
    def __init__(self, engine: AlertsDetector) -> None:
        self.engine = engine
        self.guards = GuardStore(engine.alerts.metadata)

    def run(self, ctx: DetectorContext, failures: list[str]) -> tuple[int, int]:
        """Evaluate every enabled guard; returns (guards evaluated, notifications queued)."""
        specs = self._specs(self.guards.list(), failures)
        values = self._read_values(ctx, specs, failures)
        sent, readings = 0, []
        for stored, spec in specs:
            try:
                sent += self._step(ctx, stored, spec, values.get(stored.id), readings)
            except Exception as exc:  # one broken guard must not stop the others
                log.exception("guard %s failed", stored.id)
                failures.append(f"guard {stored.id}: {type(exc).__name__}: {exc}")
        self.guards.save_states(readings, ctx.now)
        return len(specs), sent

    def _specs(self, stored: list[StoredGuard], failures: list[str]) -> list[tuple[StoredGuard, GuardSpec]]:
        found = []
        for guard in stored:
            try:
                spec = parse_stored(guard.spec)
            except ValueError as exc:
                failures.append(f"guard {guard.id}: {exc}")
                continue
            if spec.rule.enabled:
                found.append((guard, spec))
        return found

    # --- reads ---------------------------------------------------------------------------------

    def _read_values(self, ctx: DetectorContext, specs: list[tuple[StoredGuard, GuardSpec]],
                     failures: list[str]) -> dict[int, float | None]:
        """Each guard's signal. Rollup metrics: one query per project, window and kind of read (rollup,
        or raw for user scopes), every scope and metric of those guards at once; a tag scope alone
        (a call holds several tags). Other metrics (hallucination rate, drift, budgets) as rules read them."""
        groups: dict[Batch, list[tuple[StoredGuard, GuardSpec]]] = defaultdict(list)
        values: dict[int, float | None] = {}
        for stored, spec in specs:
            rule = spec.rule
            if rule.metric not in ROLLUP_METRICS:
                values[stored.id] = self.engine.metric_value(ctx, stored.project, rule)
                continue
            kind = "tag" if "tag" in rule.filter_map else "raw" if set(rule.filter_map) - ROLLUP_KEYS else "rollup"
            batch = (stored.project, rule.window, kind, rule.filters if kind == "tag" else ())
            groups[batch].append((stored, spec))
        for batch, members in groups.items():
            try:
                values.update(self._read_batch(ctx, batch, members))
            except Exception as exc:
                log.exception("guard read of %s failed", batch)
                failures.append(f"guards of {batch[0]} over {format_duration(batch[1])}: {type(exc).__name__}")
        return values

    def _read_batch(self, ctx: DetectorContext, batch: Batch,
                    members: list[tuple[StoredGuard, GuardSpec]]) -> dict[int, float | None]:
        project, window, kind, filters = batch
        metrics = tuple(sorted({spec.rule.metric for _, spec in members}))
        query = SeriesQuery(project, metrics, ctx.now - window, ctx.now, filters=dict(filters))
        if kind == "tag":
            read = window_values(ctx.store, query, rollup_span(ctx.state))
            return {stored.id: _float(read[spec.rule.metric]) for stored, spec in members}
        scopes = list(dict.fromkeys(spec.rule.filters for _, spec in members))
        rows = scoped_window_values(ctx.store, query, [dict(s) for s in scopes], rollup_span(ctx.state))
        by_scope = dict(zip(scopes, rows, strict=True))
        return {stored.id: _float(by_scope[spec.rule.filters][spec.rule.metric]) for stored, spec in members}

    # --- transitions ---------------------------------------------------------------------------

    def _step(self, ctx: DetectorContext, stored: StoredGuard, spec: GuardSpec, value: float | None,
              readings: list[tuple[int, dict[str, Any], int | None]]) -> int:
        """A state change is saved at once with its incident (a failure later in the tick must not
        open it twice); a mere new reading joins the tick's one batched write."""
        before = state_from_json(stored.state)
        after = step_guard(before, spec, value, ctx.now)
        if after.state == before.state:
            readings.append((stored.id, after.to_json(), stored.incident_id))
            return 0
        incident_id, sent = self._transition(stored, spec, before, after, ctx.now)
        self.guards.save_state(stored.id, after.to_json(), incident_id, ctx.now)
        return sent

    def _transition(self, stored: StoredGuard, spec: GuardSpec, before: GuardState, after: GuardState,
                    now: datetime) -> tuple[int | None, int]:
        alerts, incident_id = self.engine.alerts, stored.incident_id
        if after.state == OPEN:
            incident_id = alerts.open_incident(stored.project, f"Guard {spec.name} open", spec.rule.severity, now)
            alerts.update_incident(incident_id, state=FIRING, value=after.value, firing_since=now)
            alerts.add_incident_event(incident_id, now, FIRING, after.value, "guard open: calls refused")
            return incident_id, self._notify(stored, spec, incident_id, "firing", after, now)
        if incident_id is None:
            return None, 0
        if after.state == HALF_OPEN:
            alerts.add_incident_event(incident_id, now, "half_open", after.value, "cool-down over: a trickle passes")
            return incident_id, 0
        alerts.update_incident(incident_id, state=RESOLVED, value=after.value, resolved_at=now)
        alerts.add_incident_event(incident_id, now, RESOLVED, after.value, f"guard closed (was {before.state})")
        return incident_id, self._notify(stored, spec, incident_id, "resolved", after, now)

    def _notify(self, stored: StoredGuard, spec: GuardSpec, incident_id: int, event: str, after: GuardState,
                now: datetime) -> int:
        if not spec.rule.channels:
            return 0
        state = IncidentState(state=FIRING if event == "firing" else RESOLVED, firing_since=after.opened_at or now,
                              resolved_at=now if after.state == CLOSED else None)
        message = self.engine.notification(stored.project, incident_id, spec.rule, event, state, after.value)
        self.engine.dispatcher.notify(stored.project, incident_id, spec.rule.channels, message)
        return len(spec.rule.channels)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)

