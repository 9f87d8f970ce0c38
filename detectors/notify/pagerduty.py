"""A `Notification` as a PagerDuty Events API v2 alert event.

PagerDuty correlates a trigger with its resolve only through `dedup_key` (and the same routing
key), so the key is derived from the incident alone: project + incident id, never from the
value, time or event, and hashed when the pair would exceed PagerDuty's 255 characters.
A test message is sent as a trigger, as PagerDuty has no "test" action.
"""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import urlsplit

from detectors.notify.message import (
    Notification,
    clip,
    finite,
    format_condition,
    format_scope,
    format_value,
    iso_utc,
)

PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
CLIENT_NAME = "llmpulse"
SUMMARY_LIMIT = 1024
DEDUP_KEY_LIMIT = 255
EVENT_ACTIONS = {"firing": "trigger", "test": "trigger", "resolved": "resolve"}
# llmpulse and PagerDuty share the four names today; the table is where they would diverge.
SEVERITIES = {"critical": "critical", "error": "error", "warning": "warning", "info": "info"}


def pagerduty_payload(n: Notification, routing_key: str) -> dict[str, Any]:
    """The JSON body to POST to the Events API: a full alert for a trigger, a bare resolve."""
    event = {"routing_key": routing_key, "event_action": EVENT_ACTIONS[n.event], "dedup_key": dedup_key(n)}
    if event["event_action"] == "resolve":
        return event
    return {**event, "payload": _alert(n), **_client(n.dashboard_url)}


def dedup_key(n: Notification) -> str:
    """One key per incident, the same for its trigger and its resolve, within 255 characters."""
    key = f"llmpulse:{n.project}:{n.incident_id}"
    if len(key) <= DEDUP_KEY_LIMIT:
        return key
    digest = hashlib.sha256(f"{n.project}\0{n.incident_id}".encode()).hexdigest()
    return f"llmpulse:sha256:{digest}"


def _alert(n: Notification) -> dict[str, Any]:
    return {
        "summary": clip(f"[{n.project}] {n.rule_name}: {n.summary or format_condition(n)}", SUMMARY_LIMIT),
        "source": f"llmpulse/{n.project}",
        "severity": SEVERITIES.get(n.severity, "error"),
        "timestamp": iso_utc(n.started_at),
        "component": n.metric,
        "group": n.project,
        "class": n.rule_name,
        "custom_details": _details(n),
    }


def _details(n: Notification) -> dict[str, Any]:
    """Raw numbers for automation next to the formatted ones for people reading the incident."""
    return {
        "project": n.project,
        "metric": n.metric,
        "value": finite(n.value),
        "threshold": finite(n.threshold),
        "comparator": n.comparator,
        "condition": format_condition(n),
        "value_text": format_value(n.metric, n.value),
        "window": n.window,
        "scope": dict(n.scope),
        "scope_text": format_scope(n.scope),
        "incident_id": n.incident_id,
        "event": n.event,
    }


def _client(dashboard_url: str) -> dict[str, Any]:
    """`client_url` points at the llmpulse instance (the dashboard's origin), `links` at the incident."""
    if not dashboard_url:
        return {"client": CLIENT_NAME}
    parts = urlsplit(dashboard_url)
    origin = f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else dashboard_url
    return {
        "client": CLIENT_NAME,
        "client_url": origin,
        "links": [{"href": dashboard_url, "text": "Open in llmpulse"}],
    }
