"""What the API and the Alerts page both do to stored alerts: acknowledge, silence, send a test.

One implementation, so a click in the UI and a POST to the API leave the same timeline and the
same rule state behind. Refusals are `ApiError`s: the API answers them as JSON, the page shows
their message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from dashboard.params import ApiError
from detectors.alerting import AlertsDetector, state_from_json, state_to_json
from detectors.alerts.incidents import IncidentState, acknowledge, silence
from detectors.alerts.rules import RuleSpec
from detectors.notify.dispatcher import Dispatcher
from detectors.notify.message import Notification
from detectors.outbound import HttpResult
from schemas.alerting import AlertStore
from schemas.models import utcnow


@dataclass(frozen=True)
class Alerting:
    """What alerting needs from the service; `engine` words test messages like real ones."""

    alerts: AlertStore
    dispatcher: Dispatcher
    engine: AlertsDetector | None
    default_renotify: timedelta


def find_incident(alerts: AlertStore, project: str, incident_id: int) -> dict[str, Any]:
    incident = alerts.get_incident(project, incident_id)
    if incident is None:
        raise ApiError(404, f"alert {incident_id} does not exist in project {project!r}")
    return incident


def acknowledge_incident(alerts: AlertStore, project: str, incident_id: int, by: str,
                         now: datetime) -> dict[str, Any]:
    incident = find_incident(alerts, project, incident_id)
    if incident["state"] != "firing":
        raise ApiError(409, f"only a firing alert can be acknowledged; this one is {incident['state']}")
    _change_rule_state(alerts, incident, lambda s: acknowledge(s, now))
    alerts.update_incident(incident_id, acknowledged_at=now)
    alerts.add_incident_event(incident_id, now, "acknowledged", None, by)
    return find_incident(alerts, project, incident_id)


def silence_incident(alerts: AlertStore, project: str, incident_id: int, until: datetime,
                     now: datetime) -> dict[str, Any]:
    incident = find_incident(alerts, project, incident_id)
    if until <= now:
        raise ApiError(400, "a silence must end in the future")
    _change_rule_state(alerts, incident, lambda s: silence(s, until))
    alerts.update_incident(incident_id, silenced_until=until)
    alerts.add_incident_event(incident_id, now, "silenced", None, f"until {until.isoformat()}")
    return find_incident(alerts, project, incident_id)


def delete_channel(alerts: AlertStore, project: str, channel_id: int) -> None:
    """Refused while a rule or budget notifies the channel: their alerts would go nowhere."""
    if alerts.channel_secrets(project, channel_id) is None:
        raise ApiError(404, f"channel {channel_id} does not exist in project {project!r}")
    users = alerts.channel_users(project, channel_id)
    if users:
        raise ApiError(409, f"channel {channel_id} is notified by {', '.join(users)}: "
                            "remove it from them first")
    alerts.delete_channel(project, channel_id)


def send_test(alerting: Alerting, project: str, channel_id: int) -> HttpResult:
    """Deliver a test message now, logged like any delivery; the caller waits for the outcome."""
    if alerting.alerts.channel_secrets(project, channel_id) is None:
        raise ApiError(404, f"channel {channel_id} does not exist in project {project!r}")
    return alerting.dispatcher.send_test(project, channel_id, _test_notification(project, alerting.engine))


def _change_rule_state(alerts: AlertStore, incident: dict[str, Any],
                       change: Callable[[IncidentState], IncidentState]) -> None:
    """Acks and silences live in the rule's state machine too, so the engine honours them."""
    rule_id = incident["rule_id"]
    if rule_id is None:
        return
    rule = alerts.get_rule(None, rule_id)
    if rule is not None and rule.incident_id == incident["id"]:
        alerts.save_rule_state(rule_id, state_to_json(change(state_from_json(rule.state))), rule.incident_id)


def _test_notification(project: str, engine: AlertsDetector | None) -> Notification:
    if engine is None:
        raise ApiError(503, "alerting is not configured in this process")
    spec = RuleSpec(name="llmpulse test notification", metric="error_rate", comparator=">", threshold=0.05,
                    window=timedelta(minutes=5), severity="info")
    state = IncidentState(state="firing", firing_since=utcnow())
    made = engine.notification(project, None, spec, "firing", state, 0.07)
    return replace(made, event="test", summary=f"[{project}] Test from llmpulse: this channel works.")
