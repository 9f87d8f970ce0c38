"""The Costs page in headless Chromium: spend by group, budgets, unpriced calls, the price-override form."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from detectors.alerts.budget_rules import parse_budget
from llmpulse.demo.send import run_demo
from tests.conftest import Running, make_settings, start_service
from tests.e2e.browser import browser, console_errors, screenshot, wait_for, wait_idle, wait_text  # noqa: F401 (the fixture)
from tests.spans import Call

pytestmark = pytest.mark.slow
UNKNOWN_MODEL = "acme-private-llm"


@pytest.fixture(scope="module")
def costly(tmp_path_factory: pytest.TempPathFactory, chdb_dsn: str) -> Iterator[Running]:
    running = start_service(make_settings(tmp_path_factory.mktemp("ui-costs"), chdb_dsn))
    run_demo(running.otlp_url, traces=80, seed=5, days=0.5)
    private = [Call(9000 + i, 1, model=UNKNOWN_MODEL, user="u-private", tags=("private",)) for i in range(3)]
    running.send_calls(*private)
    for amount, period in ((5, "day"), (100, "month")):
        spec = parse_budget({"amount_usd": amount, "period": period}, known_channels=set()).to_json()
        running.service.alert_store.create_budget("default", spec)
    yield running
    running.service.stop()


def test_the_costs_page_shows_spend_budgets_savings_and_unpriced_models(costly: Running, browser) -> None:  # noqa: F811
    browser.get(costly.ui_url + "/costs?range=7d")
    wait_for(browser, "#daily-spend .main-svg")
    wait_for(browser, "#cost-by-group-chart .main-svg")
    assert browser.find_element(By.CSS_SELECTOR, "#costs-cost_total .value").text not in ("", "\u2013", "$0")
    assert browser.find_element(By.CSS_SELECTOR, "#costs-unpriced_requests .value").text == "3"
    assert browser.find_element(By.CSS_SELECTOR, "#costs-cache_savings .value").text.startswith("$")
    assert "gpt-4o-mini" in browser.find_element(By.ID, "cost-table").text
    budgets = browser.find_element(By.ID, "budget-table").text
    assert "$5.00 per day" in budgets and "$100.00 per month" in budgets
    assert UNKNOWN_MODEL in browser.find_element(By.ID, "unpriced-table").text
    assert "30 s" in browser.find_element(By.ID, "price-note").text
    wait_idle(browser)  # the figures done drawing
    screenshot(browser, "costs")
    assert console_errors(browser) == []


def test_the_group_by_link_regroups_the_table(costly: Running, browser) -> None:  # noqa: F811
    browser.get(costly.ui_url + "/costs?range=7d")
    wait_for(browser, "#cost-table")
    browser.find_element(By.ID, "by-provider").click()
    WebDriverWait(browser, 20).until(lambda d: "by=provider" in d.current_url)
    wait_text(browser, "#cost-table thead", "Provider")
    table = browser.find_element(By.ID, "cost-table").text
    assert "openai" in table and "anthropic" in table and "gpt-4o-mini" not in table
    browser.find_element(By.ID, "by-tag").click()
    wait_text(browser, "#cost-table", "private")
    assert "by=tag" in browser.current_url and "range=7d" in browser.current_url
    assert console_errors(browser) == []


def test_a_price_override_is_validated_then_stored(costly: Running, browser) -> None:  # noqa: F811
    browser.get(costly.ui_url + "/costs?range=7d")
    wait_for(browser, "#unpriced-table button")
    browser.find_element(By.CSS_SELECTOR, "#unpriced-table button").click()
    WebDriverWait(browser, 20).until(
        lambda d: d.find_element(By.ID, "price-model").get_attribute("value") == UNKNOWN_MODEL)
    browser.find_element(By.ID, "price-input").send_keys("-1")
    browser.find_element(By.ID, "price-output").send_keys("2")
    browser.find_element(By.ID, "price-save").click()
    wait_for(browser, "#price-error")
    assert "non-negative" in browser.find_element(By.ID, "price-message").text
    assert costly.service.metadata.list_price_overrides("default") == []
    price = browser.find_element(By.ID, "price-input")
    price.clear()
    price.send_keys("1.5")
    browser.find_element(By.ID, "price-save").click()
    wait_for(browser, "#price-saved")
    wait_text(browser, "#price-override-table", UNKNOWN_MODEL)
    screenshot(browser, "costs-price-added")
    stored = costly.service.metadata.list_price_overrides("default")
    assert [(o["model_pattern"], Decimal(o["input_per_mtok"]), Decimal(o["output_per_mtok"]),
             o["cache_read_per_mtok"]) for o in stored] == [(UNKNOWN_MODEL, Decimal("1.5"), Decimal(2), None)]
    assert console_errors(browser) == []
