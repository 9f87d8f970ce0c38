"""The alerts detector: evaluates every rule and budget, moves incidents, hands out notifications.

Rule logic is pure (`rules`, `incidents`, `budget_rules` beside it); this module reads each
rule's metric over its window, steps its incident through the state machine, persists the result
and queues deliveries on the dispatcher, so a slow channel never holds up the next rule. One
failing rule is recorded in the run's message and the others still run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from detectors.alerts.budget_rules import (
    PER_NAMES,
    BudgetSpec,
    BudgetStatus,
    new_thresholds,
    per_value_name,
    period_bounds,
)
from detectors.alerts.budget_spend import (
    budget_record,
    compute_budget_status,
    empty_status,
    stored_budget,
    value_spends,
    value_statuses,
)
from detectors.alerts.guard_eval import GuardEvaluator
from detectors.alerts.incidents import (
    FIRING,
    OK,
    PENDING,
    RESOLVE,
    RESOLVED,
    IncidentState,
    is_new_incident,
    retire,
    step,
)
from detectors.alerts.rules import RuleSpec, evaluate, format_duration, stored_rule
from detectors.base import DetectorContext, RunResult
from detectors.notify.dispatcher import Dispatcher
from detectors.notify.message import Notification, format_value
from schemas.clickhouse.metrics import SeriesQuery, window_values
from schemas.clickhouse.quality import drift_event_count, hallucination_counts
from schemas.clickhouse.rollup import rollup_span
from schemas.metadata.alert_store import AlertStore, StoredSpec

log = logging.getLogger(__name__)

BUDGET_METRICS = ("budget_used_pct", "projected_spend")
# A budget per user (tag) announces at most this many values a tick, the biggest spenders first;
# the others that crossed a threshold in the same tick share one incident that counts them.
MAX_VALUES_ANNOUNCED = 10
# A pending breach that recovers is closed without ever having been announced.
_ROW_STATE = {PENDING: PENDING, FIRING: FIRING, RESOLVED: RESOLVED, OK: RESOLVED}
_TIMELINE_KIND = {FIRING: FIRING, RESOLVED: RESOLVED, OK: "recovered before firing"}
_TIME_FIELDS = {f.name for f in fields(IncidentState) if f.name not in ("state", "value")}


@dataclass(frozen=True)
class AlertSettings:
    public_url: str
    default_renotify: timedelta


def state_to_json(state: IncidentState) -> dict[str, Any]:
    return {f.name: (v.isoformat() if isinstance(v := getattr(state, f.name), datetime) else v)
            for f in fields(IncidentState)}


def state_from_json(data: dict[str, Any]) -> IncidentState:
    values = {k: (datetime.fromisoformat(v) if k in _TIME_FIELDS and v else v) for k, v in data.items()}
    return IncidentState(**{k: v for k, v in values.items() if k in {f.name for f in fields(IncidentState)}})


class AlertsDetector:
    name = "alerts"

    def __init__(self, interval: float, alerts: AlertStore, dispatcher: Dispatcher, settings: AlertSettings) -> None:
        self.interval, self.alerts, self.dispatcher, self.settings = interval, alerts, dispatcher, settings
        # Budget statuses of the current run: budget rules and the budgets themselves read each
        # once. The runner never overlaps two runs of a detector, so one dict serves.
        self._statuses: dict[int, BudgetStatus] = {}
        self._per_value: dict[int, list[tuple[str, BudgetStatus]]] = {}
        self.guards = GuardEvaluator(self)

    def run(self, ctx: DetectorContext) -> RunResult:
        self._statuses, self._per_value = {}, {}
        rules, budgets = self.alerts.list_rules(), self.alerts.list_budgets()
        failures: list[str] = []
        sent = sum(self._guarded(self._evaluate_rule, ctx, r, failures, "rule") for r in rules)
        sent += sum(self._guarded(self._evaluate_budget, ctx, b, failures, "budget") for b in budgets)
        self._save_budget_records(budgets, ctx.now)
        guards, guard_sent = self.guards.run(ctx, failures)
        sent += guard_sent
        message = f"{len(rules)} rule(s), {len(budgets)} budget(s), {guards} guard(s), {sent} notification(s)"
        return RunResult(rows_read=len(rules) + len(budgets) + guards, rows_written=sent,
                         message="; ".join([message, *failures]))

    def _save_budget_records(self, budgets: list[StoredSpec], now: datetime) -> None:
        """The tick's one save of its budgets, which the guard status and /metrics both read: each
        budget's status and, for a budget per value, the values that spent theirs."""
        self.guards.guards.save_budget_verdicts([budget_record(b, self._statuses[b.id], self.values_over(b.id), now)
                                                 for b in budgets if b.id in self._statuses])

    def _guarded(self, evaluate_one: Any, ctx: DetectorContext, stored: StoredSpec, failures: list[str],
                 kind: str) -> int:
        try:
            return evaluate_one(ctx, stored)
        except Exception as exc:  # one broken rule must not silence the others
            log.exception("%s %s failed", kind, stored.id)
            failures.append(f"{kind} {stored.id}: {type(exc).__name__}: {exc}")
            return 0

    # --- rules ---------------------------------------------------------------------------------

    def _evaluate_rule(self, ctx: DetectorContext, stored: StoredSpec) -> int:
        spec = stored_rule(stored.spec, self.settings.default_renotify)
        if not spec.enabled:
            return self.retire_rule(stored, ctx.now, "the rule was disabled")
        value = self.metric_value(ctx, stored.project, spec)
        before = state_from_json(stored.state)
        after, actions = step(before, evaluate(spec, value), value, ctx.now,
                              for_duration=spec.for_duration, renotify=spec.renotify)
        incident_id = self._track_incident(stored, spec, before, after, ctx.now)
        for action in actions:
            event = "resolved" if action.kind == RESOLVE else "firing"
            self._notify(stored.project, incident_id, spec, event, after, action.value)
            if incident_id is not None:
                self.alerts.add_incident_event(incident_id, ctx.now, f"notified:{action.kind}", action.value)
        self.alerts.save_rule_state(stored.id, state_to_json(after), incident_id)
        return len(actions) * len(spec.channels)

    def retire_rule(self, stored: StoredSpec, now: datetime, why: str) -> int:
        """Resolve the open incident of a rule no longer evaluated (disabled, or deleted: `stored` is
        then its last row), with the all-clear to its channels; returns notifications queued."""
        before = state_from_json(stored.state)
        after, actions = retire(before, now)
        if after == before or stored.incident_id is None:
            return 0
        spec = stored_rule(stored.spec, self.settings.default_renotify)
        self.alerts.update_incident(stored.incident_id, state=RESOLVED, resolved_at=now)
        self.alerts.add_incident_event(stored.incident_id, now, RESOLVED, before.value, why)
        for action in actions:
            self._notify(stored.project, stored.incident_id, spec, "resolved", after, action.value)
            self.alerts.add_incident_event(stored.incident_id, now, f"notified:{action.kind}", action.value)
        self.alerts.save_rule_state(stored.id, state_to_json(after), stored.incident_id)  # a deleted row: no-op
        return len(actions) * len(spec.channels)

    def _track_incident(self, stored: StoredSpec, spec: RuleSpec, before: IncidentState, after: IncidentState,
                        now: datetime) -> int | None:
        """Open a row for a new incident, log each state change on its timeline, mirror the state."""
        incident_id = stored.incident_id
        if is_new_incident(before, after):
            incident_id = self.alerts.open_incident(stored.project, spec.name, spec.severity,
                                                    after.started_at or now, rule_id=stored.id)
            self.alerts.add_incident_event(incident_id, now, PENDING, after.value)
        if incident_id is None or before == after:
            return incident_id
        if after.state != before.state and after.state != PENDING:
            self.alerts.add_incident_event(incident_id, now, _TIMELINE_KIND[after.state], after.value)
        self.alerts.update_incident(
            incident_id, state=_ROW_STATE[after.state], value=after.value, firing_since=after.firing_since,
            resolved_at=after.resolved_at or (now if after.state == OK else None),
            acknowledged_at=after.acknowledged_at, silenced_until=after.silenced_until)
        return incident_id

    def metric_value(self, ctx: DetectorContext, project: str, spec: RuleSpec) -> float | None:
        """The rule's metric over [now - window, now) with its filters; None when there is no data."""
        start, filters = ctx.now - spec.window, spec.filter_map
        if spec.metric == "hallucination_rate":
            rows = hallucination_counts(ctx.store, project, start, ctx.now, filters=filters)
            sampled = sum(r["sampled"] for r in rows)
            return sum(r["flagged"] for r in rows) / sampled if sampled else None
        if spec.metric == "drift":
            return float(drift_event_count(ctx.store, project, start, ctx.now, filters.get("model")))
        if spec.metric in BUDGET_METRICS:
            return self._budget_metric(ctx, project, spec.metric)
        query = SeriesQuery(project, (spec.metric,), start, ctx.now, filters=filters)
        value = window_values(ctx.store, query, rollup_span(ctx.state))[spec.metric]
        return None if value is None else float(value)

    def _budget_metric(self, ctx: DetectorContext, project: str, metric: str) -> float | None:
        statuses = [self._status(ctx, b) for b in self.alerts.list_budgets(project)]
        if not statuses:
            return None
        if metric == "budget_used_pct":
            return float(max(s.used_pct for s in statuses))
        return float(max(s.projected_usd for s in statuses))

    # --- budgets -------------------------------------------------------------------------------

    def _status(self, ctx: DetectorContext, stored: StoredSpec) -> BudgetStatus:
        """A budget per user (tag) stands where its biggest spender stands."""
        spec = stored_budget(stored)
        if spec.per and stored.id not in self._statuses:
            values = self._value_statuses(ctx, stored)
            self._statuses[stored.id] = values[0][1] if values else empty_status(spec, ctx.now)
        if stored.id not in self._statuses:
            self._statuses[stored.id] = compute_budget_status(ctx.store, stored.project, stored_budget(stored),
                                                              ctx.now, rollup_span(ctx.state))
        return self._statuses[stored.id]

    def values_over(self, budget_id: int) -> list[str]:
        """The users (tags, ingest keys) of a budget per value that spent their amount this run (for the guards)."""
        return [value for value, status in self._per_value.get(budget_id, []) if not status.allowed]

    def _value_statuses(self, ctx: DetectorContext, stored: StoredSpec) -> list[tuple[str, BudgetStatus]]:
        """Every value's status of a budget per user (tag), biggest spender first: one grouped read a run."""
        if stored.id not in self._per_value:
            spec = stored_budget(stored)
            spends = value_spends(ctx.store, stored.project, spec, ctx.now, rollup_span(ctx.state))
            self._per_value[stored.id] = value_statuses(spec, spends, ctx.now)
        return self._per_value[stored.id]

    def _evaluate_budget(self, ctx: DetectorContext, stored: StoredSpec) -> int:
        """Each threshold is announced once per period; crossings are incidents, resolved when it ends."""
        if stored_budget(stored).per:
            return self._evaluate_budget_per_value(ctx, stored)
        spec, status = stored_budget(stored), self._status(ctx, stored)
        same_period = stored.state.get("period_start") == status.period_start.isoformat()
        notified = list(stored.state.get("notified", [])) if same_period else []
        if not same_period:
            self.alerts.resolve_budget_incidents(stored.project, stored.id, ctx.now, "a new budget period began")
        fresh = new_thresholds(notified, status.crossed)
        for threshold in fresh:
            self._announce_budget(stored, spec, status, threshold, ctx.now)
        self.alerts.save_budget_progress(stored.id, status.period_start, sorted({*notified, *fresh}))
        return len(fresh) * len(spec.channels)

    def _evaluate_budget_per_value(self, ctx: DetectorContext, stored: StoredSpec) -> int:
        """As `_evaluate_budget`, each value (user, tag) apart: a threshold is announced once per
        value and period, for at most `MAX_VALUES_ANNOUNCED` values a tick (the rest counted)."""
        spec, period_start = stored_budget(stored), period_bounds(stored_budget(stored).period, ctx.now)[0]
        same_period = stored.state.get("period_start") == period_start.isoformat()
        saved = stored.state.get("notified")
        notified: dict[str, list[int]] = dict(saved) if same_period and isinstance(saved, dict) else {}
        if not same_period:
            self.alerts.resolve_budget_incidents(stored.project, stored.id, ctx.now, "a new budget period began")
        self._status(ctx, stored)  # its biggest spender's status: for Prometheus and the guards' verdicts
        fresh = [(value, status, new_thresholds(notified.get(value, []), status.crossed))
                 for value, status in self._value_statuses(ctx, stored)]
        fresh = [item for item in fresh if item[2]]
        shown, others = fresh[:MAX_VALUES_ANNOUNCED], fresh[MAX_VALUES_ANNOUNCED:]
        for value, status, thresholds in shown:
            for threshold in thresholds:
                self._announce_budget(stored, spec, status, threshold, ctx.now, value)
        if others:
            self._announce_others(stored, spec, [status for _, status, _ in others], ctx.now)
        for value, _, thresholds in fresh:
            notified[value] = sorted({*notified.get(value, []), *thresholds})
        self.alerts.save_budget_progress(stored.id, period_start, notified)
        return (sum(len(thresholds) for *_, thresholds in shown) + bool(others)) * len(spec.channels)

    def _announce_others(self, stored: StoredSpec, spec: BudgetSpec, statuses: list[BudgetStatus],
                         now: datetime) -> None:
        """One incident for the values past the per-tick bound, so a flood of users is one page, not hundreds."""
        top = max(statuses, key=lambda status: status.used_pct)
        per = PER_NAMES[str(spec.per)]
        title = (f"Budget ${spec.amount_usd} per {per} per {spec.period}: {len(statuses)} more {per}(s) "
                 f"reached a threshold (up to {top.used_pct}%)")
        self._open_budget_incident(stored, spec, top, title, 100 if not top.allowed else min(spec.thresholds_pct),
                                   now, spec.filters)

    def _announce_budget(self, stored: StoredSpec, spec: BudgetSpec, status: BudgetStatus, threshold: int,
                         now: datetime, value: str | None = None) -> None:
        title = f"Budget {threshold}% of ${spec.amount_usd} per {spec.period} reached"
        if value is not None:
            title = (f"Budget {threshold}% of ${spec.amount_usd} per {PER_NAMES[str(spec.per)]} per {spec.period} "
                     f"reached by {per_value_name(str(spec.per), value)}")
        scope = tuple(sorted((*spec.filters, (str(spec.per), value)))) if value is not None else spec.filters
        self._open_budget_incident(stored, spec, status, title, threshold, now, scope)

    def _open_budget_incident(self, stored: StoredSpec, spec: BudgetSpec, status: BudgetStatus, title: str,
                              threshold: int, now: datetime, scope: tuple[tuple[str, str], ...]) -> None:
        severity = "critical" if threshold >= 100 else "warning"
        incident_id = self.alerts.open_incident(stored.project, title, severity, now, budget_id=stored.id)
        self.alerts.update_incident(incident_id, state=FIRING, value=float(status.used_pct), firing_since=now)
        self.alerts.add_incident_event(incident_id, now, FIRING, float(status.used_pct), title)
        rule = RuleSpec(name=title, metric="budget_used_pct", comparator=">=", threshold=float(threshold),
                        window=status.period_end - status.period_start, severity=severity,
                        filters=scope, channels=spec.channels)
        self._notify(stored.project, incident_id, rule, "firing", IncidentState(state=FIRING, firing_since=now),
                     float(status.used_pct))

    # --- notifications -------------------------------------------------------------------------

    def _notify(self, project: str, incident_id: int | None, spec: RuleSpec, event: str, state: IncidentState,
                value: float | None) -> None:
        if not spec.channels:
            return
        self.dispatcher.notify(project, incident_id, spec.channels, self.notification(
            project, incident_id, spec, event, state, value))

    def notification(self, project: str, incident_id: int | None, spec: RuleSpec, event: str,
                     state: IncidentState, value: float | None) -> Notification:
        url = f"{self.settings.public_url}/alerts?project={project}" + (f"&incident={incident_id}" if incident_id
                                                                          else "")
        verb = "resolved" if event == "resolved" else "firing"
        shown, limit = format_value(spec.metric, value), format_value(spec.metric, spec.threshold)
        return Notification(
            event=event, incident_id=str(incident_id or 0), project=project, rule_name=spec.name,
            metric=spec.metric, severity=spec.severity, value=value, threshold=spec.threshold,
            comparator=spec.comparator, window=format_duration(spec.window), scope=spec.filter_map,
            started_at=state.started_at or state.firing_since or state.resolved_at or datetime.now().astimezone(),
            dashboard_url=url,
            summary=f"[{project}] {spec.name} {verb}: {spec.metric} = {shown} ({spec.comparator} {limit})",
        )
