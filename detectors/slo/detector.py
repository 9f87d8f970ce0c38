"""The SLO detector: keeps each SLO's per-minute counts current, then evaluates budgets and
burn-rate alerts, opening incidents and notifying the SLO's channels like an alert rule does.

Counting follows the metrics detector's scheme: every minute that received a span (a score, for
the hallucination SLI) since the previous run, with an overlap, is recomputed whole from the
deduplicated calls, for all of a project's SLOs at once; an SLO seen for the first time is
counted over its whole window, a day per query. Evaluation reads only the small counts table.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from detectors.alerts.detector import AlertSettings, state_from_json, state_to_json
from detectors.alerts.incidents import FIRING, OK, PENDING, RESOLVE, RESOLVED, IncidentState, is_new_incident, step
from detectors.base import DetectorContext, RunResult
from detectors.notify.dispatcher import Dispatcher
from detectors.notify.message import Notification
from detectors.slo.burn import BURN_ALERTS, BurnAlert, alert_breached
from detectors.slo.spec import SloSpec, stored_slo
from detectors.slo.status import FILLED, FILLED_FROM, SloStatus, counts_end, slo_query, slo_statuses
from schemas.clickhouse.slo_counts import (
    VERDICT_SLI,
    SloQuery,
    active_days,
    count_call_minutes,
    count_verdict_minutes,
    dirty_call_minutes,
    dirty_verdict_minutes,
)
from schemas.metadata.alert_store import AlertStore, StoredSlo

log = logging.getLogger(__name__)

WATERMARK_KEY = "slo_watermark"
OVERLAP = timedelta(minutes=2)  # as the metrics detector: rows become visible a little late
DAY, MINUTE = timedelta(days=1), timedelta(minutes=1)
DAYS_PER_RUN = 2  # of a new SLO's window, per run (two, so the 24 h burn window is whole at once)
_ROW_STATE = {PENDING: PENDING, FIRING: FIRING, RESOLVED: RESOLVED, OK: RESOLVED}


class SloDetector:
    name = "slos"

    def __init__(self, interval: float, alerts: AlertStore, dispatcher: Dispatcher, settings: AlertSettings) -> None:
        self.interval, self.alerts, self.dispatcher, self.settings = interval, alerts, dispatcher, settings

    def run(self, ctx: DetectorContext) -> RunResult:
        slos = self.alerts.list_slos()
        watermark = ctx.state.get(WATERMARK_KEY)
        started = [s for s in slos if s.state.get(FILLED) or s.state.get(FILLED_FROM)]
        if watermark:
            self._refresh(ctx, started, datetime.fromisoformat(watermark) - OVERLAP)
        fresh = [s for s in slos if not s.state.get(FILLED)]
        self._backfill(ctx, fresh)
        slos = self.alerts.list_slos()
        statuses = slo_statuses(ctx.store, slos, ctx.now)
        failures: list[str] = []
        sent = sum(self._guarded(ctx, slo, statuses[slo.id], failures) for slo in slos)
        ctx.state.set(WATERMARK_KEY, ctx.now.isoformat())
        counting = sum(not s.state.get(FILLED) for s in slos)
        message = (f"{len(slos)} SLO(s), {len(fresh) - counting} counted over their window this run, "
                   f"{counting} still counting, {sent} notification(s)")
        return RunResult(rows_read=len(slos), rows_written=sent, message="; ".join([message, *failures]))

    # --- counting ------------------------------------------------------------------------------

    def _refresh(self, ctx: DetectorContext, slos: list[StoredSlo], since: datetime) -> None:
        """Recount, for each project, the minutes that received spans or scores since `since`."""
        for project, queries in _by_project(slos).items():
            not_before = counts_end(ctx.now) - max(q.window for q in queries)
            calls = [q for q in queries if q.sli != VERDICT_SLI]
            dirty = dirty_call_minutes(ctx.store, project, since, not_before) if calls else []
            for minutes in _by_day(dirty):  # a day's calls per query: memory bounded after an import
                count_call_minutes(ctx.store, project, calls, minutes[0], minutes[-1] + MINUTE, minutes)
            verdicts = [q for q in queries if q.sli == VERDICT_SLI]
            scored = dirty_verdict_minutes(ctx.store, project, since, not_before) if verdicts else []
            for minutes in _by_day(scored):
                for query in verdicts:
                    count_verdict_minutes(ctx.store, project, query, minutes[0], minutes[-1] + MINUTE, minutes)

    def _backfill(self, ctx: DetectorContext, slos: list[StoredSlo]) -> None:
        """Count new SLOs over their window, newest days first, at most DAYS_PER_RUN days that hold
        calls (or scores) per run, a day per query: a tick stays bounded at any volume, the burn
        windows are whole after the first run, and the budget says `counted` once all is done."""
        end = counts_end(ctx.now)
        groups: dict[tuple[str, str], list[StoredSlo]] = defaultdict(list)
        for slo in slos:
            groups[(slo.project, slo.state.get(FILLED_FROM) or "")].append(slo)
        for (project, done_from), group in groups.items():
            queries = [slo_query(s) for s in group]
            start = end - max(q.window for q in queries)
            upper = datetime.fromisoformat(done_from) if done_from else end
            days = self._days_to_count(ctx, project, queries, start, upper)
            self._count_days(ctx, project, queries, [(max(d, start), min(d + DAY, upper)) for d in days[:DAYS_PER_RUN]])
            progress = {FILLED: ctx.now.isoformat()} if len(days) <= DAYS_PER_RUN else {
                FILLED_FROM: max(days[DAYS_PER_RUN - 1], start).isoformat()}
            for slo in group:
                self.alerts.save_slo_state(slo.id, {**slo.state, **progress})

    def _days_to_count(self, ctx: DetectorContext, project: str, queries: list[SloQuery], start: datetime,
                       upper: datetime) -> list[datetime]:
        """The days of [start, upper) holding calls (or scores, for hallucination SLOs), newest first."""
        days = set(active_days(ctx.store, project, start, upper)) if any(
            q.sli != VERDICT_SLI for q in queries) else set()
        if any(q.sli == VERDICT_SLI for q in queries):
            days |= set(active_days(ctx.store, project, start, upper, verdicts=True))
        return sorted(days, reverse=True)

    def _count_days(self, ctx: DetectorContext, project: str, queries: list[SloQuery],
                    spans: list[tuple[datetime, datetime]]) -> None:
        calls = [q for q in queries if q.sli != VERDICT_SLI]
        for low, high in spans:
            count_call_minutes(ctx.store, project, calls, low, high)
            for query in (q for q in queries if q.sli == VERDICT_SLI):
                count_verdict_minutes(ctx.store, project, query, low, high)

    # --- alerts --------------------------------------------------------------------------------

    def _guarded(self, ctx: DetectorContext, slo: StoredSlo, status: SloStatus, failures: list[str]) -> int:
        try:
            return self._evaluate(ctx, slo, status)
        except Exception as exc:  # one broken SLO must not silence the others
            log.exception("SLO %s failed", slo.id)
            failures.append(f"slo {slo.id}: {type(exc).__name__}: {exc}")
            return 0

    def _evaluate(self, ctx: DetectorContext, slo: StoredSlo, status: SloStatus) -> int:
        """Step each burn-rate alert of the SLO through the incident state machine."""
        spec, state, sent = stored_slo(slo.spec), dict(slo.state), 0
        for alert in BURN_ALERTS:
            sent += self._step_alert(ctx, slo, spec, alert, status, state)
        if state != slo.state:  # a quiet SLO costs no metadata write (100 commits were 0.6 s a tick)
            self.alerts.save_slo_state(slo.id, state)
        return sent

    def _step_alert(self, ctx: DetectorContext, slo: StoredSlo, spec: SloSpec, alert: BurnAlert,
                    status: SloStatus, state: dict[str, Any]) -> int:
        before = state_from_json(state.get(alert.name, {}))
        value = status.burn.get(alert.long)
        after, actions = step(before, alert_breached(alert, status.burn), value, ctx.now,
                              for_duration=timedelta(0), renotify=self.settings.default_renotify)
        incident_id = self._track(slo, spec, alert, before, after, state.get(f"{alert.name}_incident"), ctx.now)
        state[alert.name], state[f"{alert.name}_incident"] = state_to_json(after), incident_id
        for action in actions:
            event = "resolved" if action.kind == RESOLVE else "firing"
            self._notify(slo, spec, alert, incident_id, event, after, action.value)
            if incident_id is not None:
                self.alerts.add_incident_event(incident_id, ctx.now, f"notified:{action.kind}", action.value)
        return len(actions) * len(spec.channels)

    def _track(self, slo: StoredSlo, spec: SloSpec, alert: BurnAlert, before: IncidentState,
               after: IncidentState, incident_id: int | None, now: datetime) -> int | None:
        """Open an incident when the alert starts, mirror each change on its row and timeline."""
        if is_new_incident(before, after):
            incident_id = self.alerts.open_incident(slo.project, _title(spec, alert), alert.severity,
                                                    after.started_at or now)
            self.alerts.add_incident_event(incident_id, now, PENDING, after.value, f"slo {slo.id}")
        if incident_id is None or before == after:
            return incident_id
        if after.state != before.state and after.state != PENDING:
            self.alerts.add_incident_event(incident_id, now, _ROW_STATE[after.state], after.value)
        self.alerts.update_incident(incident_id, state=_ROW_STATE[after.state], value=after.value,
                                    firing_since=after.firing_since,
                                    resolved_at=after.resolved_at or (now if after.state == OK else None))
        return incident_id

    def _notify(self, slo: StoredSlo, spec: SloSpec, alert: BurnAlert, incident_id: int | None, event: str,
                state: IncidentState, value: float | None) -> None:
        if spec.channels:
            self.dispatcher.notify(slo.project, incident_id, spec.channels,
                                   self.notification(slo, spec, alert, incident_id, event, state, value))

    def notification(self, slo: StoredSlo, spec: SloSpec, alert: BurnAlert, incident_id: int | None,
                     event: str, state: IncidentState, value: float | None) -> Notification:
        url = f"{self.settings.public_url}/alerts?project={slo.project}" + (
            f"&incident={incident_id}" if incident_id else "")
        verb = "resolved" if event == "resolved" else "firing"
        shown = "n/a" if value is None else f"{value:.1f}x"
        return Notification(
            event=event, incident_id=str(incident_id or 0), project=slo.project, rule_name=_title(spec, alert),
            metric="burn_rate", severity=alert.severity, value=value, threshold=alert.factor, comparator=">",
            window=f"{alert.long} and {alert.short}", scope=spec.filter_map,
            started_at=state.started_at or state.firing_since or state.resolved_at or datetime.now().astimezone(),
            dashboard_url=url,
            summary=f"[{slo.project}] {_title(spec, alert)} {verb}: burn rate {shown} over {alert.long} "
                    f"(> {alert.factor:g}x over {alert.long} and {alert.short}; target {spec.target:.4g})",
        )


def remove_slo(alerts: AlertStore, project: str, slo_id: int, now: datetime) -> bool:
    """Delete an SLO (False: none such in the project) and close its incidents: the API's delete and
    the Alerts page's button do the same."""
    found = alerts.list_slos(project, slo_id)
    if not found or not alerts.delete_slo(project, slo_id):
        return False
    close_incidents(alerts, found[0], now)
    return True


def close_incidents(alerts: AlertStore, slo: StoredSlo, now: datetime) -> None:
    """A deleted SLO's open incidents are resolved: nothing would ever resolve them otherwise."""
    for alert in BURN_ALERTS:
        incident_id = slo.state.get(f"{alert.name}_incident")
        if incident_id and slo.state.get(alert.name, {}).get("state") in (PENDING, FIRING):
            alerts.resolve_incident(incident_id, now, "the SLO was deleted")


def _title(spec: SloSpec, alert: BurnAlert) -> str:
    return f"SLO {spec.name}: {alert.meaning}"


def _by_project(slos: list[StoredSlo]) -> dict[str, list[SloQuery]]:
    grouped: dict[str, list[SloQuery]] = defaultdict(list)
    for slo in slos:
        grouped[slo.project].append(slo_query(slo))
    return grouped


def _by_day(minutes: list[datetime]) -> list[list[datetime]]:
    """Sorted minutes grouped by their UTC day."""
    days: dict[datetime, list[datetime]] = defaultdict(list)
    for minute in minutes:
        days[minute.replace(hour=0, minute=0)].append(minute)
    return list(days.values())
