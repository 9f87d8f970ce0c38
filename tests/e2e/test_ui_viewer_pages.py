"""What each role is shown, in real Chromium with login on. A viewer's pages leave out the forms and the
row buttons that could only refuse (one muted line says that changing needs the admin role) and keep
what a viewer may do: acknowledge and silence incidents, label spans. An admin on the same pages,
with the same rows, still sees every form and button. Neither page logs a console error: no callback
that still fires points at a component left out."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from selenium import webdriver
from selenium.webdriver.common.by import By

from schemas.clickhouse.evaluations import insert_evaluations
from tests.conftest import Running, login_session, start_exposed
from tests.e2e.browser import browser, console_errors, screenshot, wait_for, wait_idle, wait_text  # noqa: F401
from tests.e2e.test_ui_annotate import WINDOW, judged
from tests.e2e.test_ui_annotate import call as annotated_call
from tests.e2e.test_ui_guards import MINI_SPEND
from tests.e2e.test_ui_login import submit_login
from tests.spans import Call

pytestmark = pytest.mark.slow
UNKNOWN_MODEL = "acme-private-llm"
ADMIN_ROLE = "needs the admin role"
FLAGGED = (1, 3)  # two flagged spans: the viewer's test labels one, the admin's shows the other
ANNOTATE = "/annotate?" + urlencode({**WINDOW, "kind": "flagged"})
TRACE = f"/traces/{FLAGGED[0]:032x}"  # a span with its messages: an admin may add it to a dataset
# Each section of the Alerts page: its table, its form's button, and its viewer's line.
ALERT_SECTIONS = (("rules", "rule-create", "rules-read-only"), ("slos", "slo-create", "slos-read-only"),
                  ("channels", "channel-create", "channels-read-only"),
                  ("budgets", "budget-create", "budgets-read-only"), ("guards", "guard-create", "guards-read-only"))
ROW_BUTTONS = {"rules": {"disable", "edit", "delete"}, "slos": {"delete"}, "channels": {"send test", "delete"},
               "budgets": {"delete"}, "guards": {"delete"}}
# The forms of the other pages: (path, a control of the form, its viewer's note)
OTHER_FORMS = (("/costs", "price-save", "price-read-only"),
               ("/evaluations/experiments", "run-start", "run-form"),
               ("/evaluations/datasets", "import-run", "dataset-import"))


def _created(client: requests.Session, running: Running, path: str, body: Any) -> dict[str, Any]:
    answer = client.post(running.ui_url + "/api/v1" + path, json=body, timeout=300)
    assert answer.status_code == 201, f"POST {path}: {answer.status_code} {answer.text}"
    return answer.json()


@pytest.fixture(scope="module")
def populated(tmp_path_factory: pytest.TempPathFactory, chdb_dsn: str) -> Iterator[Running]:
    """Login on, and a row in every table a form changes: a rule that fires, an SLO, a channel, a
    budget, a guard, a price override and an unpriced model, a dataset, and a flagged span to label."""
    running = start_exposed(tmp_path_factory.mktemp("ui-viewer"), chdb_dsn)
    key = running.service.metadata.create_key("default", "tests").key
    running.send_calls(Call(9100), Call(9101, model=UNKNOWN_MODEL), *(annotated_call(n) for n in FLAGGED),
                       headers={"Authorization": f"Bearer {key}"})
    insert_evaluations(running.service.store, [judged(n) for n in FLAGGED])
    admin = login_session(running.ui_url, "ada", "correct horse battery")
    _created(admin, running, "/channels", {"type": "slack", "name": "on-call", "url": "http://127.0.0.1:9/hook"})
    _created(admin, running, "/alert-rules", {"name": "Any spend", "metric": "cost_total", "comparator": ">",
                                              "threshold": 0, "window": "1d"})
    _created(admin, running, "/slos", {"name": "answers succeed", "sli": "errors", "target": 0.99, "window": "28d"})
    _created(admin, running, "/budgets", {"amount_usd": 100, "period": "month"})
    _created(admin, running, "/guards", MINI_SPEND)
    _created(admin, running, "/datasets", {"name": "golden"})
    _created(admin, running, "/datasets/golden/items", [{"input": "When do refunds arrive?", "expected": "5 days"}])
    running.service.metadata.add_price_override("default", "acme-*", Decimal(1), Decimal(2), datetime.now(UTC))
    runs = admin.post(running.ui_url + "/api/v1/detectors/run", json={"detectors": ["metrics", "alerts"]},
                      timeout=300).json()["runs"]
    assert [r["outcome"] for r in runs] == ["ok", "ok"]
    yield running
    running.service.stop()


def log_in(driver: webdriver.Chrome, running: Running, username: str, password: str) -> None:
    driver.get(running.ui_url + "/alerts")
    submit_login(driver, username, password)
    wait_text(driver, "#page h1", "Alerts")


def buttons(driver: webdriver.Chrome, table_id: str) -> set[str]:
    return {b.text for b in driver.find_elements(By.CSS_SELECTOR, f"#{table_id} button")}


def present(driver: webdriver.Chrome, element_id: str) -> bool:
    return bool(driver.find_elements(By.ID, element_id))


def open_page(driver: webdriver.Chrome, running: Running, path: str, css: str) -> None:
    driver.get(running.ui_url + path)
    wait_for(driver, css)
    wait_idle(driver)


def show(driver: webdriver.Chrome, element_id: str, name: str) -> None:
    driver.execute_script(f"document.getElementById('{element_id}').scrollIntoView()")
    screenshot(driver, name)


def test_a_viewer_is_shown_only_what_they_may_use(populated: Running, browser) -> None:  # noqa: F811
    log_in(browser, populated, "vic", "viewer password 1")
    wait_for(browser, "#rules-read-only")
    wait_idle(browser)
    for table_id, form_button, note in ALERT_SECTIONS:
        assert not present(browser, form_button), f"a viewer is shown #{form_button}"
        assert buttons(browser, table_id) == set(), f"a viewer is shown buttons in #{table_id}"
        assert ADMIN_ROLE in browser.find_element(By.ID, note).text
    for absent in ("rule-name", "slo-name", "channel-url", "budget-amount", "channel-test-poll"):
        assert not present(browser, absent), f"a viewer is shown #{absent}"
    assert "Any spend" in browser.find_element(By.ID, "rules").text  # the rows themselves are read
    assert buttons(browser, "incidents") == {"ack", "silence 1h"}  # what a viewer may do stays
    show(browser, "rules", "alerts-viewer")
    browser.find_element(By.CSS_SELECTOR, "#incidents button").click()  # "ack" comes first
    wait_for(browser, "#incident-acked")
    assert console_errors(browser) == []

    for path, control, note in OTHER_FORMS:
        open_page(browser, populated, path, f"#{note}")
        assert not present(browser, control), f"a viewer is shown #{control} on {path}"
        assert ADMIN_ROLE in browser.find_element(By.ID, note).text
        assert console_errors(browser) == [], path
    open_page(browser, populated, "/costs", "#unpriced-table")
    assert UNKNOWN_MODEL in browser.find_element(By.ID, "unpriced-table").text
    assert buttons(browser, "unpriced-table") == buttons(browser, "price-override-table") == set()
    show(browser, "price-read-only", "costs-viewer")
    open_page(browser, populated, "/evaluations/datasets/golden", "#dataset-items")
    assert not present(browser, "run-start") and not present(browser, "import-run")
    assert ADMIN_ROLE in browser.find_element(By.ID, "run-form").text
    assert ADMIN_ROLE in browser.find_element(By.ID, "dataset-import").text
    open_page(browser, populated, TRACE, "#waterfall")
    assert browser.find_elements(By.CSS_SELECTOR, ".add-to-dataset") == []

    open_page(browser, populated, ANNOTATE, "#annotate-correct")
    assert browser.find_element(By.ID, "annotate-correct").is_displayed()
    assert not browser.find_element(By.ID, "annotate-send").is_displayed()
    assert ADMIN_ROLE in browser.find_element(By.ID, "annotate-read-only").text
    browser.find_element(By.ID, "annotate-correct").click()  # a viewer may label
    wait_text(browser, "#annotate-message", "Labelled correct")

    # Settings are an admin's page: not in the nav, and the page itself says so (reached in the app,
    # since the route guard answers a viewer's GET /settings with a 403).
    assert "Settings" not in browser.find_element(By.ID, "nav").text
    browser.execute_script("window.history.pushState({}, '', '/settings');"
                           "window.dispatchEvent(new PopStateEvent('popstate'));")
    wait_text(browser, "#page h1", "Settings need an admin")
    assert ADMIN_ROLE in browser.find_element(By.ID, "settings-read-only").text
    assert not present(browser, "project-save") and not present(browser, "key-create")
    screenshot(browser, "settings-viewer")
    assert console_errors(browser) == []


def test_an_admin_on_the_same_pages_sees_every_form_and_button(populated: Running, browser) -> None:  # noqa: F811
    log_in(browser, populated, "ada", "correct horse battery")
    wait_for(browser, "#rule-create")
    wait_idle(browser)
    for table_id, form_button, note in ALERT_SECTIONS:
        assert present(browser, form_button) and not present(browser, note)
        assert buttons(browser, table_id) == ROW_BUTTONS[table_id], table_id
    assert "silence 1h" in buttons(browser, "incidents")  # the viewer's test may have acknowledged it
    assert console_errors(browser) == []

    for path, control, note in OTHER_FORMS:
        open_page(browser, populated, path, f"#{control}")
        assert not present(browser, note) or ADMIN_ROLE not in browser.find_element(By.ID, note).text
        assert console_errors(browser) == [], path
    open_page(browser, populated, "/costs", "#unpriced-table")
    assert buttons(browser, "unpriced-table") == {"set price"}
    assert buttons(browser, "price-override-table") == {"delete"}
    assert not present(browser, "price-read-only")
    open_page(browser, populated, "/evaluations/datasets/golden", "#import-run")
    assert present(browser, "run-start")
    open_page(browser, populated, TRACE, "#waterfall")
    assert browser.find_elements(By.CSS_SELECTOR, ".add-to-dataset")
    open_page(browser, populated, ANNOTATE, "#annotate-correct")
    assert browser.find_element(By.ID, "annotate-send").is_displayed()
    assert not present(browser, "annotate-read-only")
    open_page(browser, populated, "/settings", "#project-save")
    for control in ("project-create", "key-create", "token-create", "regression-save"):
        assert present(browser, control), control
    assert console_errors(browser) == []
