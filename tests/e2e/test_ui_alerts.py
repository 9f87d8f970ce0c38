"""The Alerts page in real Chromium: channels with a test delivery to a local receiver, rules
edited and disabled, budgets, and an incident acknowledged and silenced by whoever is on call."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from detectors.notify.webhook import SIGNATURE_HEADER, verify_signature
from llmpulse.demo.send import run_demo
from tests.conftest import Running, api, make_settings, start_service
from tests.e2e.browser import (  # noqa: F401 (the fixture)
    browser,
    choose,
    console_errors,
    screenshot,
    type_into,
    wait_for,
    wait_text,
)
from tests.receiver import Receiver, Reply, receiver  # noqa: F401 (the fixture)
from tests.spans import Call

pytestmark = pytest.mark.slow
SECRET = "whsec-ui-test"


@pytest.fixture(scope="module")
def alerting(tmp_path_factory: pytest.TempPathFactory, chdb_dsn: str) -> Iterator[Running]:
    running = start_service(make_settings(tmp_path_factory.mktemp("ui-alerts"), chdb_dsn))
    run_demo(running.otlp_url, traces=60, seed=11, days=0.25)
    # A priced call now: just after midnight UTC the demo may have spent nothing yet "today".
    running.send_calls(Call(9100))
    yield running
    running.service.stop()


def open_alerts(driver, running: Running) -> None:
    driver.get(running.ui_url + "/alerts")
    wait_for(driver, "#rule-create")
    wait_for(driver, "#channel-url[placeholder*='hooks.slack.com']")  # the page's first callbacks have run


def row_button(driver, table: str, row_text: str, label: str):
    for row in driver.find_elements(By.CSS_SELECTOR, f"#{table} tbody tr"):
        if row_text in row.text:
            return next(b for b in row.find_elements(By.TAG_NAME, "button") if b.text == label)
    raise AssertionError(f"no row with {row_text!r} in #{table}")


def test_a_webhook_channel_is_added_and_its_test_reaches_the_receiver(alerting: Running, browser,  # noqa: F811
                                                                       receiver: Receiver) -> None:  # noqa: F811
    open_alerts(browser, alerting)
    choose(browser, "channel-type", "webhook")
    wait_for(browser, "#channel-secret-field:not([style*='none'])")
    type_into(browser, "channel-name", "ops-hook")
    type_into(browser, "channel-url", "ftp://nowhere")
    browser.find_element(By.ID, "channel-create").click()
    wait_text(browser, "#channel-create-message", "url must be an http(s) URL")
    type_into(browser, "channel-url", receiver.url + "/hook")
    type_into(browser, "channel-secret", SECRET)
    browser.find_element(By.ID, "channel-create").click()
    wait_for(browser, "#channel-created")
    wait_text(browser, "#channels", "ops-hook")
    assert SECRET not in browser.page_source  # sealed: never shown again
    row_button(browser, "channels", "ops-hook", "send test").click()
    wait_for(browser, "#channel-test-ok")
    assert "HTTP 200, 1 attempt" in browser.find_element(By.ID, "channel-message").text
    (sent,) = receiver.wait_for(1)
    assert sent.path == "/hook" and sent.json()["event"] == "test"
    assert verify_signature(sent.body, sent.headers[SIGNATURE_HEADER], SECRET, time.time())
    wait_text(browser, "#deliveries", "sent")
    screenshot(browser, "alerts-channel-tested")
    assert console_errors(browser) == []


def test_a_failing_channel_test_says_what_the_endpoint_answered(alerting: Running, browser,  # noqa: F811
                                                                receiver: Receiver) -> None:  # noqa: F811
    receiver.default.status = 404
    channel = api(alerting, "POST", "/channels", {"type": "slack", "name": "gone", "url": receiver.url}).json()
    open_alerts(browser, alerting)
    row_button(browser, "channels", "gone", "send test").click()
    wait_for(browser, "#channel-test-failed")
    assert f"Test to channel {channel['id']} failed: HTTP 404, 1 attempt" in browser.find_element(
        By.ID, "channel-message").text  # a 404 is not retried
    assert console_errors(browser) == []


def test_a_test_to_a_hung_channel_shows_pending_then_its_outcome(alerting: Running, browser,  # noqa: F811
                                                                 receiver: Receiver) -> None:  # noqa: F811
    release = threading.Event()
    receiver.default = Reply(200, until=release)  # the endpoint holds the test until released
    channel = api(alerting, "POST", "/channels", {"type": "slack", "name": "hangs", "url": receiver.url}).json()
    open_alerts(browser, alerting)
    try:
        row_button(browser, "channels", "hangs", "send test").click()
        wait_for(browser, "#channel-test-in-flight")
        assert f"Test to channel {channel['id']} sent" in browser.find_element(By.ID, "channel-message").text
        wait_text(browser, "#deliveries", "pending")
    finally:
        release.set()
    wait_for(browser, "#channel-test-ok")  # the page polled the delivery log until the answer came
    assert f"Test delivered to channel {channel['id']}: HTTP 200, 1 attempt" in browser.find_element(
        By.ID, "channel-message").text
    wait_text(browser, "#deliveries", "sent")
    assert console_errors(browser) == []


def test_a_rule_is_created_with_a_channel_edited_and_disabled(alerting: Running, browser,  # noqa: F811
                                                              receiver: Receiver) -> None:  # noqa: F811
    channel = api(alerting, "POST", "/channels", {"type": "slack", "name": "rule-target", "url": receiver.url}).json()
    open_alerts(browser, alerting)
    type_into(browser, "rule-name", "Slow answers")
    choose(browser, "rule-metric", "p95 latency · latency_p95_ms")
    type_into(browser, "rule-threshold", "2500")
    type_into(browser, "rule-filters", "model")
    choose(browser, "rule-channels", f"#{channel['id']} slack: rule-target")
    browser.find_element(By.ID, "rule-create").click()
    wait_text(browser, "#rule-message", "write each filter as key=value")
    type_into(browser, "rule-filters", "model=gpt-4o, environment=production")
    browser.find_element(By.ID, "rule-create").click()
    wait_for(browser, "#rule-created")
    WebDriverWait(browser, 20).until(lambda d: d.find_element(By.ID, "rule-name").get_attribute("value") == "")
    (rule,) = [r for r in api(alerting, "GET", "/alert-rules").json()["rules"] if r["name"] == "Slow answers"]
    assert (rule["metric"], rule["threshold"], rule["channels"], rule["filters"]) == (
        "latency_p95_ms", 2500, [channel["id"]], {"environment": "production", "model": "gpt-4o"})

    row_button(browser, "rules", "Slow answers", "edit").click()
    WebDriverWait(browser, 20).until(lambda d: d.find_element(By.ID, "rule-name").get_attribute("value")
                                     == "Slow answers")
    assert browser.find_element(By.ID, "rule-create").text == f"Save rule {rule['id']}"
    type_into(browser, "rule-threshold", "4000")
    browser.find_element(By.ID, "rule-create").click()
    wait_for(browser, "#rule-saved")
    edited = api(alerting, "GET", f"/alert-rules/{rule['id']}").json()
    assert (edited["threshold"], edited["channels"], edited["filters"]) == (4000, rule["channels"], rule["filters"])

    row_button(browser, "rules", "Slow answers", "disable").click()
    wait_for(browser, "#rule-toggled")
    assert api(alerting, "GET", f"/alert-rules/{rule['id']}").json()["enabled"] is False
    wait_text(browser, "#rules", "disabled")
    screenshot(browser, "alerts-rule-disabled")

    row_button(browser, "channels", "rule-target", "delete").click()
    wait_text(browser, "#channel-message", f"is notified by rule {rule['id']}")
    assert channel["id"] in {c["id"] for c in api(alerting, "GET", "/channels").json()["channels"]}
    row_button(browser, "rules", "Slow answers", "delete").click()
    wait_for(browser, "#rule-deleted")  # the rule being edited: the form is a new-rule form again
    wait_text(browser, "#rule-create", "Create rule")
    row_button(browser, "channels", "rule-target", "delete").click()
    wait_for(browser, "#channel-deleted")
    assert channel["id"] not in {c["id"] for c in api(alerting, "GET", "/channels").json()["channels"]}
    assert console_errors(browser) == []


def test_a_budget_added_in_the_ui_is_what_the_kill_switch_answers(alerting: Running, browser) -> None:  # noqa: F811
    open_alerts(browser, alerting)
    type_into(browser, "budget-amount", "lots")
    browser.find_element(By.ID, "budget-create").click()
    wait_text(browser, "#budget-create-message", "amount_usd")
    type_into(browser, "budget-amount", "0.000001")  # the demo has spent more than that today
    choose(browser, "budget-period", "day")
    type_into(browser, "budget-thresholds", "80, 100")
    browser.find_element(By.ID, "budget-create").click()
    wait_for(browser, "#budget-created")
    wait_text(browser, "#budgets", "over budget")
    assert browser.find_element(By.ID, "budget-amount").get_attribute("value") == ""  # ready for the next one
    status = api(alerting, "GET", "/budget/status").json()
    assert status["allowed"] is False and [b["thresholds_pct"] for b in status["budgets"]] == [[80, 100]]
    screenshot(browser, "alerts-budget")
    row_button(browser, "budgets", "per day", "delete").click()
    wait_for(browser, "#budget-deleted")
    assert api(alerting, "GET", "/budget/status").json()["allowed"] is True


def test_a_budget_per_user_added_in_the_ui_answers_per_user(alerting: Running, browser) -> None:  # noqa: F811
    alerting.send_calls(Call(9200, user="ui-heavy-user", input_tokens=4000))
    open_alerts(browser, alerting)
    type_into(browser, "budget-amount", "0.0001")
    choose(browser, "budget-per", "each user apart")
    browser.find_element(By.ID, "budget-create").click()
    wait_for(browser, "#budget-created")
    wait_text(browser, "#budgets", "per month for each user")
    screenshot(browser, "alerts-budget-per-user")
    heavy = api(alerting, "GET", "/budget/status", user="ui-heavy-user").json()
    assert heavy["allowed"] is False and heavy["budgets"][0]["per"] == "user"
    assert api(alerting, "GET", "/budget/status", user="ui-light-user").json()["allowed"] is True
    row_button(browser, "budgets", "for each user", "delete").click()
    wait_for(browser, "#budget-deleted")
    assert console_errors(browser) == []


def test_an_slo_added_in_the_ui_is_counted_and_deleted(alerting: Running, browser) -> None:  # noqa: F811
    open_alerts(browser, alerting)
    type_into(browser, "slo-name", "answers succeed")
    type_into(browser, "slo-target", "100")
    browser.find_element(By.ID, "slo-create").click()
    wait_text(browser, "#slo-create-message", "target must be a number strictly between 0 and 1")
    type_into(browser, "slo-target", "99.5")
    type_into(browser, "slo-window", "7d")
    browser.find_element(By.ID, "slo-create").click()
    wait_for(browser, "#slo-created")
    wait_text(browser, "#slos", "counting")
    assert browser.find_element(By.ID, "slo-name").get_attribute("value") == ""  # ready for the next one
    (slo,) = api(alerting, "GET", "/slos").json()["slos"]
    assert (slo["sli"], slo["target"], slo["window"]) == ("errors", 0.995, "1w")
    assert api(alerting, "POST", "/detectors/run", {"detectors": ["slos"]}).status_code == 200
    open_alerts(browser, alerting)
    wait_for(browser, "#slos")
    WebDriverWait(browser, 20).until(lambda d: "counting" not in d.find_element(By.ID, "slos").text)
    assert api(alerting, "GET", "/slos").json()["slos"][0]["counted"] is True
    screenshot(browser, "alerts-slo")
    row_button(browser, "slos", "answers succeed", "delete").click()
    wait_for(browser, "#slo-deleted")
    assert api(alerting, "GET", "/slos").json()["slos"] == []
    assert console_errors(browser) == []


def test_a_firing_incident_is_acknowledged_then_silenced(alerting: Running, browser) -> None:  # noqa: F811
    rule = api(alerting, "POST", "/alert-rules", {"name": "Any spend", "metric": "cost_total", "comparator": ">",
                                                  "threshold": 0, "window": "1d"}).json()
    runs = api(alerting, "POST", "/detectors/run", {"detectors": ["metrics", "alerts"]}).json()["runs"]
    assert [r["outcome"] for r in runs] == ["ok", "ok"]
    (incident,) = [i for i in api(alerting, "GET", "/alerts").json() if i["rule_id"] == rule["id"]]
    assert incident["state"] == "firing"
    open_alerts(browser, alerting)
    row_button(browser, "incidents", "Any spend", "ack").click()
    wait_for(browser, "#incident-acked")
    acked = api(alerting, "GET", f"/alerts/{incident['id']}").json()
    assert acked["acknowledged_at"] and [h["kind"] for h in acked["history"]][-1] == "acknowledged"
    wait_text(browser, "#incidents", "acknowledged")
    row_button(browser, "incidents", "Any spend", "silence 1h").click()
    wait_for(browser, "#incident-silenced")
    assert api(alerting, "GET", f"/alerts/{incident['id']}").json()["silenced_until"]
    screenshot(browser, "alerts-incident-acknowledged")
    row_button(browser, "rules", "Any spend", "delete").click()  # the page's delete closes the incident too
    wait_for(browser, "#rule-deleted")
    closed = api(alerting, "GET", f"/alerts/{incident['id']}").json()
    assert closed["state"] == "resolved"
    assert ("resolved", "the rule was deleted") in [(h["kind"], h["note"]) for h in closed["history"]]
    assert console_errors(browser) == []


def test_guards_are_listed_with_the_state_a_gateway_is_told(alerting: Running, browser) -> None:  # noqa: F811
    spend = {"name": "Any mini spend", "metric": "cost_total", "comparator": ">", "threshold": 0, "window": "1d",
             "filters": {"model": "gpt-4o-mini"}}
    opened = api(alerting, "POST", "/guards", spend).json()
    calm = api(alerting, "POST", "/guards", {**spend, "name": "Huge spend", "threshold": 1e6}).json()
    runs = api(alerting, "POST", "/detectors/run", {"detectors": ["metrics", "alerts"]}).json()["runs"]
    assert [r["outcome"] for r in runs] == ["ok", "ok"]
    open_alerts(browser, alerting)
    wait_text(browser, "#guards", "open: calls refused")
    rows = [row.text for row in browser.find_elements(By.CSS_SELECTOR, "#guards tbody tr")]
    assert "closed: calls pass" in next(text for text in rows if "Huge spend" in text)
    assert "model=gpt-4o-mini" in next(text for text in rows if "Any mini spend" in text)
    screenshot(browser, "alerts-guards")
    for guard in (opened, calm):
        assert api(alerting, "DELETE", f"/guards/{guard['id']}").status_code == 204
    assert console_errors(browser) == []
