"""The alerting service: what the API and the Alerts page both do to stored alerts (acknowledge,
silence, send a test, delete a channel).

One implementation, so a click in the UI and a POST to the API leave the same timeline and the
same rule state behind. Refusals are `ActionRefused`: the API answers them as JSON with their
status, the page shows their message.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import CancelledError, Future
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from detectors.alerts.detector import AlertsDetector, state_from_json, state_to_json
from detectors.alerts.incidents import IncidentState, acknowledge, silence
from detectors.alerts.rules import RuleSpec
from detectors.notify.dispatcher import ChannelTest, Dispatcher
from detectors.notify.message import Notification
from detectors.outbound import HttpResult
from schemas.metadata.alert_store import AlertStore
from schemas.metadata.models import utcnow

# A test send's answer is awaited this long (under the test policy's 5 s per attempt): a live
# endpoint answers well within it, a hung one costs a UI thread no more than this.
TEST_WAIT_SECONDS = 3.0


class ActionRefused(Exception):
    """No such alert or channel, or not in a state that allows the action; `status` is the HTTP
    status the API answers with (404, 409, 400, 503)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def waiting_slots(ui_threads: int) -> threading.BoundedSemaphore:
    """At most a quarter of the UI's threads ever wait on test sends (none below 4 threads): the
    rest answer "pending" at once, so any number of clicks leaves the UI and /healthz answering."""
    return threading.BoundedSemaphore(ui_threads // 4)


@dataclass(frozen=True)
class Alerting:
    """What alerting needs from the service; `engine` words test messages like real ones."""

    alerts: AlertStore
    dispatcher: Dispatcher
    engine: AlertsDetector | None
    default_renotify: timedelta
    waiters: threading.BoundedSemaphore = field(default_factory=lambda: waiting_slots(4))
    test_wait: float = TEST_WAIT_SECONDS


@dataclass(frozen=True)
class ChannelTestOutcome:
    """A test send as the caller sees it: its delivery, and its result unless still in flight."""

    channel_id: int
    delivery_id: int
    result: HttpResult | None  # None: the endpoint has not answered within the wait
    joined: bool  # another request's test to this channel was in flight and is the one reported


def find_incident(alerts: AlertStore, project: str, incident_id: int) -> dict[str, Any]:
    incident = alerts.get_incident(project, incident_id)
    if incident is None:
        raise ActionRefused(404, f"alert {incident_id} does not exist in project {project!r}")
    return incident


def acknowledge_incident(alerts: AlertStore, project: str, incident_id: int, by: str,
                         now: datetime) -> dict[str, Any]:
    incident = find_incident(alerts, project, incident_id)
    if incident["state"] != "firing":
        raise ActionRefused(409, f"only a firing alert can be acknowledged; this one is {incident['state']}")
    _change_rule_state(alerts, incident, lambda s: acknowledge(s, now))
    alerts.update_incident(incident_id, acknowledged_at=now)
    alerts.add_incident_event(incident_id, now, "acknowledged", None, by)
    return find_incident(alerts, project, incident_id)


def silence_incident(alerts: AlertStore, project: str, incident_id: int, until: datetime,
                     now: datetime) -> dict[str, Any]:
    incident = find_incident(alerts, project, incident_id)
    if until <= now:
        raise ActionRefused(400, "a silence must end in the future")
    _change_rule_state(alerts, incident, lambda s: silence(s, until))
    alerts.update_incident(incident_id, silenced_until=until)
    alerts.add_incident_event(incident_id, now, "silenced", None, f"until {until.isoformat()}")
    return find_incident(alerts, project, incident_id)


def delete_channel(alerts: AlertStore, project: str, channel_id: int) -> None:
    """Refused while a rule or budget notifies the channel: their alerts would go nowhere."""
    if alerts.channel_secrets(project, channel_id) is None:
        raise ActionRefused(404, f"channel {channel_id} does not exist in project {project!r}")
    users = alerts.channel_users(project, channel_id)
    if users:
        raise ActionRefused(409, f"channel {channel_id} is notified by {', '.join(users)}: "
                            "remove it from them first")
    alerts.delete_channel(project, channel_id)


def send_test(alerting: Alerting, project: str, channel_id: int) -> ChannelTestOutcome:
    """Send a test message on the notifier's test pool, logged like any delivery, and wait a short,
    bounded time for its outcome: a hung endpoint leaves the answer pending, never the UI stuck."""
    if alerting.alerts.channel_secrets(project, channel_id) is None:
        raise ActionRefused(404, f"channel {channel_id} does not exist in project {project!r}")
    sent = alerting.dispatcher.send_test(project, channel_id, _test_notification(project, alerting.engine))
    return ChannelTestOutcome(channel_id, sent.delivery_id, _await_briefly(alerting, sent), sent.joined)


def _await_briefly(alerting: Alerting, sent: ChannelTest) -> HttpResult | None:
    """The result if it comes within `test_wait`; no wait at all when enough threads already do."""
    if sent.future.done():
        return _result_within(sent.future, 0)
    if not alerting.waiters.acquire(blocking=False):
        return None
    try:
        return _result_within(sent.future, alerting.test_wait)
    finally:
        alerting.waiters.release()


def _result_within(future: Future[HttpResult], seconds: float) -> HttpResult | None:
    """None while in flight, and for a test the stopping service dropped (its log row says so)."""
    try:
        return future.result(timeout=seconds)
    except (TimeoutError, CancelledError):
        return None


def _change_rule_state(alerts: AlertStore, incident: dict[str, Any],
                       change: Callable[[IncidentState], IncidentState]) -> None:
    """Acks and silences live in the rule's state machine too, so the engine honours them."""
    rule_id = incident["rule_id"]
    if rule_id is None:
        _change_slo_state(alerts, incident, change)
        return
    rule = alerts.get_rule(None, rule_id)
    if rule is not None and rule.incident_id == incident["id"]:
        alerts.save_rule_state(rule_id, state_to_json(change(state_from_json(rule.state))), rule.incident_id)


def _change_slo_state(alerts: AlertStore, incident: dict[str, Any],
                      change: Callable[[IncidentState], IncidentState]) -> None:
    """An SLO's burn-rate alert keeps its incident id in the SLO's state (`detectors.slo`)."""
    for slo in alerts.list_slos():
        for name in [k.removesuffix("_incident") for k, v in slo.state.items()
                     if k.endswith("_incident") and v == incident["id"]]:
            state = {**slo.state, name: state_to_json(change(state_from_json(slo.state.get(name, {}))))}
            alerts.save_slo_state(slo.id, state)


def _test_notification(project: str, engine: AlertsDetector | None) -> Notification:
    if engine is None:
        raise ActionRefused(503, "alerting is not configured in this process")
    spec = RuleSpec(name="llmpulse test notification", metric="error_rate", comparator=">", threshold=0.05,
                    window=timedelta(minutes=5), severity="info")
    state = IncidentState(state="firing", firing_since=utcnow())
    made = engine.notification(project, None, spec, "firing", state, 0.07)
    return replace(made, event="test", summary=f"[{project}] Test from llmpulse: this channel works.")
