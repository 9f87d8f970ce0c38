"""The Alerts page's guards in real Chromium: an admin adds a guard through the form (refused first
with the API's own words, naming the field), sees it in the table and through GET /api/v1/guards and
the status, and deletes it; a viewer sees the table without the form or the delete buttons."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.conftest import Running, api, login_session, make_settings, start_service
from tests.e2e.browser import (  # noqa: F401 (the fixture)
    browser,
    choose,
    console_errors,
    screenshot,
    type_into,
    wait_for,
    wait_text,
)
from tests.e2e.test_ui_alerts import row_button
from tests.e2e.test_ui_login import submit_login

pytestmark = pytest.mark.slow
MINI_SPEND = {"name": "mini spend", "metric": "cost_total", "comparator": ">", "threshold": 5, "window": "1h",
              "filters": {"model": "gpt-4o-mini"}}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, chdb_dsn: str) -> Iterator[Running]:
    running = start_service(make_settings(tmp_path_factory.mktemp("ui-guards"), chdb_dsn))
    yield running
    running.service.stop()


def open_guards(driver, running: Running) -> None:
    driver.get(running.ui_url + "/alerts")
    wait_for(driver, "#guards-list")
    wait_for(driver, "#guard-threshold[placeholder*='fraction']")  # the section's first callback has run


def create(driver) -> None:
    driver.find_element(By.ID, "guard-create").click()


def test_an_admin_adds_a_guard_in_the_form_and_deletes_it(served: Running, browser) -> None:  # noqa: F811
    channel = api(served, "POST", "/channels", {"type": "slack", "name": "breakers",
                                                "url": "http://127.0.0.1:9/hook"}).json()
    open_guards(browser, served)
    type_into(browser, "guard-name", "mini errors")
    type_into(browser, "guard-threshold", "lots")
    type_into(browser, "guard-filters", "model=gpt-4o-mini, user=u1")
    create(browser)
    wait_text(browser, "#guard-create-message", "threshold must be a number, not 'lots'")
    type_into(browser, "guard-threshold", "1.5")
    create(browser)
    wait_text(browser, "#guard-create-message", "threshold for error_rate is a fraction between 0 and 1")
    type_into(browser, "guard-threshold", "0.5")
    type_into(browser, "guard-filters", "colour=blue")
    create(browser)
    wait_text(browser, "#guard-create-message", "filters: unknown key 'colour'; accepted: model, service")
    type_into(browser, "guard-filters", "model=gpt-4o-mini, user=u1")
    type_into(browser, "guard-trickle", "2")
    choose(browser, "guard-trickle-kind", "fraction of calls")
    create(browser)
    wait_text(browser, "#guard-create-message", "trickle.fraction must be more than 0")
    assert api(served, "GET", "/guards").json()["guards"] == []  # every refusal stored nothing

    type_into(browser, "guard-trickle", "0.1")
    type_into(browser, "guard-window", "10m")
    type_into(browser, "guard-cooldown", "2m")
    choose(browser, "guard-comparator", ">=")
    choose(browser, "guard-channels", f"#{channel['id']} slack: breakers")
    create(browser)
    wait_for(browser, "#guard-created")
    wait_text(browser, "#guards", "mini errors")
    WebDriverWait(browser, 20).until(lambda d: d.find_element(By.ID, "guard-name").get_attribute("value") == "")
    (guard,) = api(served, "GET", "/guards").json()["guards"]
    assert {k: guard[k] for k in ("name", "metric", "comparator", "threshold", "window", "filters", "cooldown",
                                  "trickle", "channels", "state")} == {
        "name": "mini errors", "metric": "error_rate", "comparator": ">=", "threshold": 0.5, "window": "10m",
        "filters": {"model": "gpt-4o-mini", "user": "u1"}, "cooldown": "2m", "trickle": {"fraction": 0.1},
        "channels": [channel["id"]], "state": "closed"}
    row = next(r.text for r in browser.find_elements(By.CSS_SELECTOR, "#guards tbody tr") if "mini errors" in r.text)
    assert "error_rate >= 50.0% over 10m" in row and "model=gpt-4o-mini, user=u1" in row
    assert "closed: calls pass" in row and "10.0% of calls" in row
    browser.execute_script("document.getElementById('guards').scrollIntoView()")
    status = api(served, "GET", "/guard/status", model="gpt-4o-mini").json()
    assert (status["allowed"], status["state"]) == (True, "closed")
    screenshot(browser, "alerts-guard-form")

    row_button(browser, "guards", "mini errors", "delete").click()
    wait_for(browser, "#guard-deleted")
    wait_text(browser, "#guards-list", "No guards")
    assert api(served, "GET", "/guards").json()["guards"] == []
    assert api(served, "DELETE", f"/channels/{channel['id']}").status_code == 204  # no guard notifies it now
    assert console_errors(browser) == []


def test_a_viewer_sees_the_guards_but_no_form(exposed: Running, browser) -> None:  # noqa: F811
    admin = login_session(exposed.ui_url, "ada", "correct horse battery")
    created = admin.post(exposed.ui_url + "/api/v1/guards", json=MINI_SPEND, timeout=30)
    assert created.status_code == 201, created.text
    browser.get(exposed.ui_url + "/alerts")
    submit_login(browser, "vic", "viewer password 1")
    wait_for(browser, "#guards-read-only")
    wait_text(browser, "#guards", "mini spend")
    assert browser.find_elements(By.ID, "guard-create") == []
    assert browser.find_elements(By.ID, "guard-name") == []
    assert [b for b in browser.find_elements(By.CSS_SELECTOR, "#guards button")] == []
    assert "needs the admin role" in browser.find_element(By.ID, "guards-read-only").text
    browser.execute_script("document.getElementById('guards').scrollIntoView()")
    screenshot(browser, "alerts-guards-viewer")
    assert console_errors(browser) == []
