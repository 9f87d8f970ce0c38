"""The Settings page's regression set in real headless Chromium: an admin sets one through the form
(bad values answered with the API's own messages, nothing stored), the API then reports exactly
what was typed; rows are added and removed, the set removed; the runs the regression job
recorded show their gate and link to their experiments. A viewer's refusal is in
tests/integration/test_role_rights.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from tests.conftest import Running, api, make_settings, start_service
from tests.e2e.browser import (  # noqa: F401 (the fixture)
    browser,
    choose,
    console_errors,
    screenshot,
    type_into,
    wait_for,
    wait_idle,
    wait_text,
)
from tests.regression_runs import BASELINE_RUN, CHANGE_RUN, REASON, RUNNING_RUN, seed_runs

pytestmark = pytest.mark.slow
KEY_VARIABLE = "LLMPULSE_TARGET_REGUI"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, chdb_dsn: str) -> Iterator[Running]:
    """Dataset golden, three recorded regression runs, and a webhook channel (#1, oncall)."""
    running = start_service(make_settings(tmp_path_factory.mktemp("ui-regression"), chdb_dsn))
    seed_runs(running.service.metadata, running.service.alert_store)
    channel = {"type": "webhook", "name": "oncall", "url": "http://127.0.0.1:9/hook", "secret": "s"}
    assert api(running, "POST", "/channels", channel).status_code == 201
    yield running
    running.service.stop()


@pytest.fixture(autouse=True)
def key_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """The server reads a target's key variable when the set is checked (this process: the service's)."""
    monkeypatch.setenv(KEY_VARIABLE, "sk-regui")


def control(field: str, row: int) -> str:
    """A target row's control (its id is a pattern-matching one, a JSON text no selector can name)."""
    row_id = f"#regression-target-{row}"
    return f"{row_id} .target-{field} input, {row_id} textarea.target-{field}"


def type_target(driver, field: str, row: int, text: str) -> None:
    """`type_into` for a target row's control."""
    element = driver.find_element(By.CSS_SELECTOR, control(field, row))
    element.send_keys(Keys.CONTROL, "a")
    element.send_keys(Keys.BACKSPACE, text)


def project(running: Running) -> dict:
    return api(running, "GET", "/projects/default").json()


def save(driver, expect: str, text: str) -> None:
    driver.find_element(By.ID, "regression-save").click()
    try:
        wait_text(driver, "#regression-message", text)
    except TimeoutException:
        raise AssertionError(f"the page says {driver.find_element(By.ID, 'regression-message').text!r}") from None
    assert driver.find_elements(By.ID, expect)


def open_settings(driver, running: Running) -> None:
    driver.get(running.ui_url + "/settings?project=default")
    wait_for(driver, "#regression-save")
    wait_idle(driver)


def test_an_admin_sets_the_regression_set_in_the_form_and_the_api_reports_it(served: Running,
                                                                            browser) -> None:  # noqa: F811
    open_settings(browser, served)
    choose(browser, "regression-dataset", "golden")
    type_target(browser, "requested", 0, "gpt-4o")
    type_target(browser, "endpoint", 0, "ftp://models.internal/v1")
    save(browser, "regression-error", "regression_targets['gpt-4o']: endpoint 'ftp://models.internal/v1' is not an "
                                      "http(s) URL")
    assert project(served)["regression_dataset"] is None  # nothing stored

    type_target(browser, "endpoint", 0, "http://127.0.0.1:9/v1")
    type_into(browser, "regression-min-pass-rate", "1.5")
    save(browser, "regression-error", "regression_min_pass_rate must be a fraction from 0 to 1 (0.8 for 80%), got 1.5")
    type_into(browser, "regression-min-pass-rate", "0.8")
    type_target(browser, "api_key_env", 0, "MY_KEY")
    save(browser, "regression-error", "api_key_env 'MY_KEY' is not allowed")
    assert project(served)["regression_dataset"] is None
    type_target(browser, "api_key_env", 0, KEY_VARIABLE)
    browser.find_element(By.CSS_SELECTOR, "#regression-target-0 summary").click()
    type_target(browser, "system_prompt", 0, "You answer support questions, briefly.")
    type_target(browser, "temperature", 0, "0")

    browser.find_element(By.ID, "regression-target-add").click()
    wait_for(browser, "#regression-target-1")
    assert browser.find_element(By.CSS_SELECTOR, control("endpoint", 0)).get_attribute("value") == "http://127.0.0.1:9/v1"
    type_target(browser, "requested", 1, "gpt-4o-mini")
    type_target(browser, "endpoint", 1, "http://127.0.0.1:9/v1")
    type_target(browser, "model", 1, "gpt-4o-mini-2024-07-18")
    choose(browser, "regression-notify", "only the channels chosen")
    WebDriverWait(browser, 10).until(lambda d: d.find_element(By.ID, "regression-channels").is_enabled())
    choose(browser, "regression-channels", "#1 oncall")
    save(browser, "regression-saved", "Saved: golden runs against gpt-4o, gpt-4o-mini on each model change")
    screenshot(browser, "settings-regression-saved")

    saved = project(served)
    assert {key: saved[key] for key in saved if key.startswith("regression_")} == {
        "regression_dataset": "golden",
        "regression_targets": {
            "gpt-4o": {"endpoint": "http://127.0.0.1:9/v1", "model": "gpt-4o", "api_key_env": KEY_VARIABLE,
                       "system_prompt": "You answer support questions, briefly.", "temperature": 0.0},
            "gpt-4o-mini": {"endpoint": "http://127.0.0.1:9/v1", "model": "gpt-4o-mini-2024-07-18"}},
        "regression_min_pass_rate": 0.8, "regression_channels": [1]}
    assert console_errors(browser) == []


def test_a_row_removed_and_the_set_removed_are_what_the_api_reports(served: Running, browser) -> None:  # noqa: F811
    body = {"regression_dataset": "golden", "regression_min_pass_rate": None, "regression_channels": None,
            "regression_targets": {"gpt-4o": {"endpoint": "http://127.0.0.1:9/v1", "prompt_template": "Q: {{input}}"},
                                   "claude-3-5-sonnet": {"endpoint": "http://127.0.0.1:9/v1"}}}
    assert api(served, "PUT", "/projects/default", body).status_code == 200
    open_settings(browser, served)
    assert browser.find_element(By.CSS_SELECTOR, control("requested", 1)).get_attribute("value") == "claude-3-5-sonnet"
    assert "prompt template set" in browser.find_element(By.CSS_SELECTOR, "#regression-target-0 summary").text
    assert not browser.find_element(By.ID, "regression-channels").is_enabled()  # every channel: none to choose
    browser.find_element(By.CSS_SELECTOR, "#regression-target-1 .regression-remove-row").click()
    WebDriverWait(browser, 10).until(lambda d: not d.find_elements(By.ID, "regression-target-1"))
    save(browser, "regression-saved", "Saved: golden runs against gpt-4o on")
    assert project(served)["regression_targets"] == {  # the folded prompt kept, the server's defaults filled in
        "gpt-4o": {"endpoint": "http://127.0.0.1:9/v1", "model": "gpt-4o", "prompt_template": "Q: {{input}}"}}

    browser.find_element(By.ID, "regression-remove").click()
    wait_text(browser, "#regression-message", "Regression set removed")
    assert project(served)["regression_dataset"] is None and project(served)["regression_targets"] == {}
    assert not browser.find_element(By.ID, "regression-remove").is_displayed()  # the form now offers a new set
    assert console_errors(browser) == []


def test_the_runs_show_their_gate_and_link_to_their_experiments(served: Running, browser) -> None:  # noqa: F811
    open_settings(browser, served)
    rows = browser.find_elements(By.CSS_SELECTOR, "#regression-runs-table tr.regression-run")
    assert [r.find_element(By.CSS_SELECTOR, "td").text for r in rows] == [RUNNING_RUN, CHANGE_RUN, BASELINE_RUN]
    running, failed, passed = (r.text for r in rows)
    assert "running" in running and "waits for the run" in running
    assert "gpt-4o-2024-05-13 →\ngpt-4o-2024-08-06" in failed and "30.0%" in failed and REASON in failed
    assert "failed" in failed and BASELINE_RUN in failed and "#1" in failed
    assert "baseline: the version served today" in passed and "passed" in passed and "65.0%" in passed
    browser.execute_script("arguments[0].scrollIntoView()", browser.find_element(By.ID, "regression"))
    screenshot(browser, "settings-regression-runs")
    rows[1].find_element(By.LINK_TEXT, CHANGE_RUN).click()
    WebDriverWait(browser, 20).until(lambda d: d.current_url.split("?")[0].endswith(f"/experiments/{CHANGE_RUN}"))
    assert "project=default" in browser.current_url
    wait_text(browser, "#page h1", f"Experiment {CHANGE_RUN}")
    assert console_errors(browser) == []
