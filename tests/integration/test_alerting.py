"""Alert rules, incidents, channels and budgets through the real API, with spans sent over OTLP and
notifications received by a local HTTP receiver standing in for Slack, PagerDuty and a webhook."""

from __future__ import annotations

import time
from typing import Any

import pytest

from detectors.notify.webhook import SIGNATURE_HEADER, verify_signature
from tests.conftest import Running, api, run_detectors, settled_deliveries
from tests.receiver import Receiver, Reply
from tests.spans import Call

ROUTING_KEY = "R0UT1NGKEY0123456789abcdefABCDEF"
SECRET = "whsec-test-secret"


def channels(running: Running, receiver: Receiver) -> dict[str, int]:
    specs = {
        "slack": {"type": "slack", "name": "#oncall", "url": receiver.url + "/slack"},
        "pagerduty": {"type": "pagerduty", "name": "PD", "routing_key": ROUTING_KEY, "url": receiver.url + "/pd"},
        "webhook": {"type": "webhook", "name": "hook", "url": receiver.url + "/hook", "secret": SECRET},
    }
    ids = {}
    for kind, spec in specs.items():
        response = api(running, "POST", "/channels", spec)
        assert response.status_code == 201, response.text
        ids[kind] = response.json()["id"]
    return ids


def by_path(receiver: Receiver, path: str) -> list[Any]:
    return [r for r in receiver.requests if r.path == path]


def wait_deliveries(running: Running, incident_id: int, count: int) -> list[dict]:
    return settled_deliveries(running, f"/alerts/{incident_id}", count)


def test_channels_keep_secrets_and_send_a_test(running: Running, receiver: Receiver) -> None:
    ids = channels(running, receiver)
    listed = api(running, "GET", "/channels")
    assert [c["type"] for c in listed.json()["channels"]] == ["slack", "pagerduty", "webhook"]
    for secret in (ROUTING_KEY, SECRET, "/slack", "/hook"):
        assert secret not in listed.text
    tested = api(running, "POST", f"/channels/{ids['slack']}/test")
    assert tested.status_code == 200 and tested.json()["ok"], tested.text
    message = by_path(receiver, "/slack")[0].json()
    assert message["text"] and message["blocks"][0]["type"] == "header"
    receiver.default = Reply(400, "invalid_payload")
    failed = api(running, "POST", f"/channels/{ids['webhook']}/test")
    assert failed.status_code == 502 and "HTTP 400" in failed.json()["error"]
    log = api(running, "GET", f"/channels/{ids['webhook']}/deliveries").json()["deliveries"]
    assert log[0]["status"] == "failed" and log[0]["http_status"] == 400


def test_a_channel_in_use_is_not_deleted(running: Running, receiver: Receiver) -> None:
    channel = api(running, "POST", "/channels", {"type": "slack", "name": "in-use", "url": receiver.url}).json()
    rule = api(running, "POST", "/alert-rules", {"name": "r", "metric": "error_rate", "comparator": ">",
                                                 "threshold": 0.5, "window": "5m", "channels": [channel["id"]]})
    budget = api(running, "POST", "/budgets", {"amount_usd": 5, "period": "day", "channels": [channel["id"]]})
    refused = api(running, "DELETE", f"/channels/{channel['id']}")
    assert refused.status_code == 409
    assert refused.json()["error"] == (f"channel {channel['id']} is notified by rule {rule.json()['id']}, "
                                       f"budget {budget.json()['id']}: remove it from them first")
    api(running, "DELETE", f"/alert-rules/{rule.json()['id']}")
    api(running, "DELETE", f"/budgets/{budget.json()['id']}")
    assert api(running, "DELETE", f"/channels/{channel['id']}").status_code == 204
    gone = api(running, "DELETE", f"/channels/{channel['id']}")
    assert gone.status_code == 404 and "does not exist" in gone.json()["error"]


@pytest.mark.parametrize(("body", "field", "message"), [
    ({"type": "email", "name": "x"}, "type", "type must be one of slack, pagerduty, webhook"),
    ({"type": "slack", "name": "x"}, "url", "url is required"),
    ({"type": "slack", "name": "x", "url": "ftp://nope"}, "url", "url must be an http(s) URL"),
    ({"type": "pagerduty", "name": "x"}, "routing_key", "routing_key must be a non-empty string"),
])
def test_bad_channels_are_refused(running: Running, body: dict, field: str, message: str) -> None:
    response = api(running, "POST", "/channels", body)
    assert response.status_code == 400 and response.json()["field"] == field
    assert message in response.json()["error"]
    assert api(running, "GET", "/channels").json()["channels"] == []


@pytest.mark.parametrize(("patch", "field", "message"), [
    ({"metric": "vibes"}, "metric", "unknown metric 'vibes'"),
    ({"threshold": "high"}, "threshold", "threshold"),
    ({"channels": [999]}, "channels", "channel 999 does not exist"),
    ({"window": "5 minutes"}, "window", 'e.g. "30s", "5m"'),
])
def test_bad_rules_are_refused(running: Running, patch: dict, field: str, message: str) -> None:
    rule = {"name": "errors", "metric": "error_rate", "comparator": ">", "threshold": 0.2, "window": "1h", **patch}
    response = api(running, "POST", "/alert-rules", rule)
    assert response.status_code == 400, response.text
    assert response.json()["field"] == field and message in response.json()["error"]
    assert api(running, "GET", "/alert-rules").json()["rules"] == []


def test_rule_fires_notifies_every_channel_once_and_resolves(running: Running, receiver: Receiver) -> None:
    ids = channels(running, receiver)
    rule = {"name": "Error rate high", "metric": "error_rate", "comparator": ">", "threshold": 0.2,
            "window": "1h", "for": "0s", "severity": "critical", "filters": {"model": "gpt-4o-mini"},
            "channels": list(ids.values())}
    created = api(running, "POST", "/alert-rules", rule)
    assert created.status_code == 201, created.text
    running.send_calls(*[Call(100 + i, error=i < 3) for i in range(4)])
    run_detectors(running)
    alerts = api(running, "GET", "/alerts").json()
    assert [(a["state"], a["rule_id"], a["value"]) for a in alerts] == [("firing", created.json()["id"], 0.75)]
    deliveries = wait_deliveries(running, alerts[0]["id"], 3)
    assert {d["status"] for d in deliveries} == {"sent"}
    slack, page, hook = by_path(receiver, "/slack")[0], by_path(receiver, "/pd")[0], by_path(receiver, "/hook")[0]
    assert "Error rate high" in slack.json()["text"]
    trigger = page.json()
    assert trigger["event_action"] == "trigger" and trigger["routing_key"] == ROUTING_KEY
    assert trigger["payload"]["severity"] == "critical" and trigger["payload"]["custom_details"]["scope"]
    assert verify_signature(hook.body, hook.headers[SIGNATURE_HEADER], SECRET, time.time())
    assert hook.json()["event"] == "firing" and hook.json()["value"] == 0.75

    run_detectors(running)  # still firing: no second notification before the re-notify interval
    assert len(wait_deliveries(running, alerts[0]["id"], 3)) == 3  # the run queued no delivery
    assert len(receiver.requests) == 3
    acked = api(running, "POST", f"/alerts/{alerts[0]['id']}/ack")
    assert acked.status_code == 200 and acked.json()["acknowledged_at"]

    running.send_calls(*[Call(200 + i) for i in range(30)])  # 3 errors in 34 calls: below 20%
    run_detectors(running)
    resolved = api(running, "GET", f"/alerts/{alerts[0]['id']}").json()
    assert resolved["state"] == "resolved"
    assert [h["kind"] for h in resolved["history"]][:3] == ["pending", "firing", "notified:trigger"]
    assert "acknowledged" in [h["kind"] for h in resolved["history"]]
    wait_deliveries(running, alerts[0]["id"], 6)
    resolve = by_path(receiver, "/pd")[1].json()
    assert resolve["event_action"] == "resolve" and resolve["dedup_key"] == trigger["dedup_key"]
    assert by_path(receiver, "/hook")[1].json()["event"] == "resolved"


def test_a_dead_channel_fails_with_a_reason_and_blocks_nothing(running: Running, receiver: Receiver) -> None:
    receiver.default = Reply(503, "down", headers={"Retry-After": "0"})
    hook = api(running, "POST", "/channels", {"type": "webhook", "name": "down", "url": receiver.url + "/h"}).json()
    rule = {"name": "any request", "metric": "cost_total", "comparator": ">=", "threshold": 0, "window": "1h",
            "channels": [hook["id"]]}
    assert api(running, "POST", "/alert-rules", rule).status_code == 201
    running.send_calls(Call(300))
    started = time.monotonic()
    run_detectors(running)
    assert time.monotonic() - started < 5  # deliveries are retried off the detector's thread
    incident = api(running, "GET", "/alerts").json()[0]
    delivery = wait_deliveries(running, incident["id"], 1)[0]
    assert delivery["status"] == "failed" and delivery["attempts"] == 5 and "HTTP 503" in delivery["error"]


def test_budget_kill_switch_and_threshold_notifications(running: Running, receiver: Receiver) -> None:
    hook = api(running, "POST", "/channels", {"type": "webhook", "name": "fin", "url": receiver.url + "/b"}).json()
    assert api(running, "GET", "/budget/status").json()["allowed"] is True
    budget = api(running, "POST", "/budgets", {"amount_usd": 0.0001, "period": "day", "thresholds_pct": [50, 100],
                                               "channels": [hook["id"]]})
    assert budget.status_code == 201, budget.text
    running.send_calls(Call(400, input_tokens=400, output_tokens=0))  # $0.00006 at gpt-4o-mini list price
    status = api(running, "GET", "/budget/status").json()
    assert status["allowed"] is True and status["spent_exact"] == "0.00006" and status["crossed"] == [50]
    running.send_calls(Call(401, input_tokens=400, output_tokens=0))
    status = api(running, "GET", "/budget/status").json()
    assert status["allowed"] is False and status["budget_usd"] == 0.0001 and status["period_end"]
    run_detectors(running)
    run_detectors(running)  # each threshold is announced once per period
    received = receiver.wait_for(2)
    assert len(settled_deliveries(running, f"/channels/{hook['id']}/deliveries", 2)) == 2  # both runs queued 2
    assert len(receiver.requests) == 2
    assert sorted(r.json()["threshold"] for r in received) == [50.0, 100.0]
    bad = api(running, "POST", "/budgets", {"amount_usd": -5, "period": "year"})
    assert bad.status_code == 400 and bad.json()["field"] in ("amount_usd", "period")
