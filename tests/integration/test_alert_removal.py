"""A rule, budget or SLO that stops being evaluated (deleted, or a rule disabled) closes its open
incident: it would otherwise fire for good, and PagerDuty would never get the resolve."""

from __future__ import annotations

from typing import Any

from tests.conftest import Running, api, run_detectors, settled_deliveries
from tests.receiver import Receiver
from tests.spans import Call

ROUTING_KEY = "R0UT1NGKEY0123456789abcdefABCDEF"


def firing_rule(running: Running, receiver: Receiver, name: str) -> tuple[int, dict[str, Any]]:
    """A rule paging PagerDuty and a webhook that fires on the calls sent; (rule id, its incident)."""
    page = api(running, "POST", "/channels", {"type": "pagerduty", "name": f"PD {name}", "routing_key": ROUTING_KEY,
                                              "url": receiver.url + "/pd"}).json()["id"]
    hook = api(running, "POST", "/channels", {"type": "webhook", "name": f"hook {name}",
                                              "url": receiver.url + "/hook"}).json()["id"]
    rule = api(running, "POST", "/alert-rules", {"name": name, "metric": "cost_total", "comparator": ">",
                                                 "threshold": 0, "window": "1h", "channels": [page, hook]})
    assert rule.status_code == 201, rule.text
    running.send_calls(Call(700))
    run_detectors(running, "metrics", "alerts")
    (incident,) = [i for i in api(running, "GET", "/alerts", state="firing").json() if i["title"] == name]
    settled_deliveries(running, f"/alerts/{incident['id']}", 2)
    return rule.json()["id"], incident


def assert_closed_and_announced(running: Running, receiver: Receiver, incident: dict[str, Any], why: str) -> None:
    closed = api(running, "GET", f"/alerts/{incident['id']}").json()
    assert closed["state"] == "resolved" and closed["resolved_at"], closed
    assert any(h["kind"] == "resolved" and h["note"] == why for h in closed["history"]), closed["history"]
    settled_deliveries(running, f"/alerts/{incident['id']}", 4)
    trigger, resolve = [r.json() for r in receiver.requests if r.path == "/pd"]
    assert (trigger["event_action"], resolve["event_action"]) == ("trigger", "resolve")
    assert resolve["dedup_key"] == trigger["dedup_key"]  # PagerDuty closes the incident it opened
    assert [r.json()["event"] for r in receiver.requests if r.path == "/hook"] == ["firing", "resolved"]


def test_a_deleted_rule_resolves_its_incident_and_sends_the_all_clear(running: Running, receiver: Receiver) -> None:
    rule_id, incident = firing_rule(running, receiver, "spend")
    assert api(running, "DELETE", f"/alert-rules/{rule_id}").status_code == 204
    assert_closed_and_announced(running, receiver, incident, "the rule was deleted")
    assert api(running, "GET", "/alerts", state="firing").json() == []
    # A rule made next (SQLite may give it the freed id) opens its own incident; the old stays closed.
    again = api(running, "POST", "/alert-rules", {"name": "spend again", "metric": "cost_total", "comparator": ">",
                                                  "threshold": 0, "window": "1h"}).json()
    run_detectors(running, "alerts")
    firing = api(running, "GET", "/alerts", state="firing").json()
    assert [(i["title"], i["rule_id"]) for i in firing] == [("spend again", again["id"])]
    assert firing[0]["id"] != incident["id"]
    assert api(running, "GET", f"/alerts/{incident['id']}").json()["state"] == "resolved"


def test_a_disabled_rule_resolves_its_incident_at_the_next_run(running: Running, receiver: Receiver) -> None:
    rule_id, incident = firing_rule(running, receiver, "spend")
    assert api(running, "PUT", f"/alert-rules/{rule_id}", {"enabled": False}).status_code == 200
    run_detectors(running, "alerts")
    assert_closed_and_announced(running, receiver, incident, "the rule was disabled")
    run_detectors(running, "alerts")  # nothing more to close, nothing sent twice
    assert len([r for r in receiver.requests if r.path == "/pd"]) == 2
    assert api(running, "PUT", f"/alert-rules/{rule_id}", {"enabled": True}).status_code == 200
    run_detectors(running, "alerts")  # enabled again: a new incident, not the old one reopened
    (reopened,) = api(running, "GET", "/alerts", state="firing").json()
    assert reopened["id"] != incident["id"] and reopened["rule_id"] == rule_id


def test_a_deleted_budget_or_slo_closes_its_incidents(running: Running) -> None:
    budget = api(running, "POST", "/budgets", {"amount_usd": 0.00001, "period": "month", "thresholds_pct": [100]})
    slo = api(running, "POST", "/slos", {"name": "answers succeed", "sli": "errors", "target": 0.999,
                                         "window": "28d"})
    assert budget.status_code == 201 and slo.status_code == 201, budget.text + slo.text
    running.send_calls(*[Call(800 + i, error=True) for i in range(20)])
    run_detectors(running, "metrics", "alerts", "slos")
    opened = {i["title"]: i["id"] for i in api(running, "GET", "/alerts", state="firing").json()}
    assert len(opened) >= 2, opened  # the budget's and the SLO's fast burn
    assert api(running, "DELETE", f"/budgets/{budget.json()['id']}").status_code == 204
    assert api(running, "DELETE", f"/slos/{slo.json()['id']}").status_code == 204
    assert api(running, "GET", "/alerts", state="firing").json() == []
    notes = {note for incident_id in opened.values()
             for note in (h["note"] for h in api(running, "GET", f"/alerts/{incident_id}").json()["history"])}
    assert {"the budget was deleted", "the SLO was deleted"} <= notes
