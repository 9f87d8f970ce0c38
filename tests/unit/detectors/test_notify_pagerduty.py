"""PagerDuty Events API v2 events: shapes, limits, and the dedup key that ties trigger to resolve."""

from __future__ import annotations

import re
from datetime import datetime

import pytest

from detectors.notify import PAGERDUTY_EVENTS_URL, ChannelTarget, dedup_key, deliver, pagerduty_payload
from detectors.outbound import RetryPolicy
from tests.receiver import Receiver, Reply
from tests.unit.detectors.test_notify_slack import make_notification

ROUTING_KEY = "R0UT1NGKEY0123456789abcdefABCDEF"  # 32 characters, like a real integration key
PD_SEVERITIES = {"critical", "error", "warning", "info"}


def test_default_url_is_the_public_events_endpoint() -> None:
    assert PAGERDUTY_EVENTS_URL == "https://events.pagerduty.com/v2/enqueue"


def test_trigger_has_every_required_field() -> None:
    event = pagerduty_payload(make_notification(), ROUTING_KEY)
    assert event["routing_key"] == ROUTING_KEY
    assert event["event_action"] == "trigger"
    payload = event["payload"]
    for required in ("summary", "source", "severity"):
        assert isinstance(payload[required], str) and payload[required], required
    assert payload["severity"] in PD_SEVERITIES
    assert datetime.fromisoformat(payload["timestamp"]).utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    assert payload["timestamp"] == "2025-01-02T03:04:05Z"
    assert {"component", "group", "class"} <= payload.keys()


def test_custom_details_carry_the_rule_and_the_measurement() -> None:
    details = pagerduty_payload(make_notification(), ROUTING_KEY)["payload"]["custom_details"]
    assert details["value"] == 12.4 and details["threshold"] == 10.0
    assert details["comparator"] == ">" and details["window"] == "5m"
    assert details["scope"] == {"model": "gpt-4o"} and details["metric"] == "cost_total"
    assert details["project"] == "checkout" and details["condition"] == "$12.40 > $10.00"


def test_non_finite_values_become_null() -> None:
    details = pagerduty_payload(make_notification(value=float("nan"), threshold=None), ROUTING_KEY)
    assert details["payload"]["custom_details"]["value"] is None
    assert details["payload"]["custom_details"]["threshold"] is None


def test_links_and_client_point_at_the_dashboard() -> None:
    event = pagerduty_payload(make_notification(), ROUTING_KEY)
    assert event["links"] == [{"href": "https://pulse.example.com/alerts/inc-42", "text": "Open in llmpulse"}]
    assert event["client"] == "llmpulse" and event["client_url"] == "https://pulse.example.com"


def test_without_a_dashboard_url_there_are_no_links() -> None:
    event = pagerduty_payload(make_notification(dashboard_url=""), ROUTING_KEY)
    assert "links" not in event and "client_url" not in event and event["client"] == "llmpulse"


def test_trigger_and_resolve_share_the_dedup_key() -> None:
    trigger = pagerduty_payload(make_notification(event="firing", value=12.4), ROUTING_KEY)
    resolve = pagerduty_payload(make_notification(event="resolved", value=3.0, summary="back to normal"),
                                ROUTING_KEY)
    assert trigger["dedup_key"] == resolve["dedup_key"] == "llmpulse:checkout:inc-42"


def test_dedup_key_differs_between_incidents_and_projects() -> None:
    keys = {dedup_key(make_notification(project=p, incident_id=i)) for p in ("a", "b") for i in ("1", "2")}
    assert len(keys) == 4


def test_long_ids_are_hashed_into_a_stable_key_within_255() -> None:
    first = make_notification(project="p" * 200, incident_id="i" * 200)
    key = dedup_key(first)
    assert len(key) <= 255 and re.fullmatch(r"llmpulse:sha256:[0-9a-f]{64}", key)
    assert dedup_key(make_notification(project="p" * 200, incident_id="i" * 200, event="resolved")) == key
    assert dedup_key(make_notification(project="p" * 200, incident_id="i" * 199 + "j")) != key


def test_resolve_is_the_bare_three_fields() -> None:
    event = pagerduty_payload(make_notification(event="resolved"), ROUTING_KEY)
    assert event == {"routing_key": ROUTING_KEY, "event_action": "resolve", "dedup_key": "llmpulse:checkout:inc-42"}


def test_a_test_message_is_a_trigger() -> None:
    assert pagerduty_payload(make_notification(event="test"), ROUTING_KEY)["event_action"] == "trigger"


@pytest.mark.parametrize("severity", ["critical", "error", "warning", "info"])
def test_severity_mapping(severity: str) -> None:
    payload = pagerduty_payload(make_notification(severity=severity), ROUTING_KEY)["payload"]
    assert payload["severity"] == severity


def test_summary_is_cut_to_1024_with_a_very_long_rule_name() -> None:
    payload = pagerduty_payload(make_notification(rule_name="spend " * 1000), ROUTING_KEY)["payload"]
    assert len(payload["summary"]) == 1024 and payload["summary"].endswith("…")
    assert payload["summary"].startswith("[checkout] spend spend")


def test_summary_names_project_rule_and_what_happened() -> None:
    summary = pagerduty_payload(make_notification(), ROUTING_KEY)["payload"]["summary"]
    assert summary == "[checkout] Daily spend: Spend $12.40 is over $10.00"
    bare = pagerduty_payload(make_notification(summary=""), ROUTING_KEY)["payload"]["summary"]
    assert bare == "[checkout] Daily spend: $12.40 > $10.00"


def test_delivery_posts_to_the_target_url_with_the_routing_key(receiver: Receiver) -> None:
    receiver.default = Reply(202, {"status": "success", "message": "Event processed", "dedup_key": "x"})
    target = ChannelTarget("pagerduty", receiver.url + "/v2/enqueue", routing_key=ROUTING_KEY, name="oncall")
    firing, resolved = make_notification(), make_notification(event="resolved")
    assert deliver(target, firing, policy=RetryPolicy(attempts=1)).ok
    result = deliver(target, resolved, policy=RetryPolicy(attempts=1))
    assert (result.ok, result.status) == (True, 202) and result.json()["status"] == "success"
    trigger, resolve = receiver.wait_for(2)
    assert trigger.path == resolve.path == "/v2/enqueue"
    assert trigger.json() == pagerduty_payload(firing, ROUTING_KEY)
    assert resolve.json() == pagerduty_payload(resolved, ROUTING_KEY)
    assert trigger.json()["routing_key"] == resolve.json()["routing_key"] == ROUTING_KEY
    assert trigger.json()["dedup_key"] == resolve.json()["dedup_key"]
