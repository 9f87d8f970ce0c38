"""Which cost counts, in real headless Chromium: chosen on the Settings page, seen in the trace view."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from selenium.webdriver.common.by import By

from tests.conftest import Running, make_settings, start_service
from tests.e2e.browser import browser, choose, console_errors, screenshot, wait_for  # noqa: F401 (the fixture)
from tests.spans import Call

pytestmark = pytest.mark.slow


@pytest.fixture
def running(tmp_path_factory: pytest.TempPathFactory, chdb_dsn: str) -> Iterator[Running]:
    handle = start_service(make_settings(tmp_path_factory.mktemp("costs"), chdb_dsn))
    yield handle
    handle.service.stop()


def test_choosing_reported_cost_in_settings_shows_both_costs_in_the_trace(running: Running, browser) -> None:  # noqa: F811
    browser.get(running.ui_url + "/settings?project=default")
    wait_for(browser, "#project-cost-preference")
    choose(browser, "project-cost-preference", "the app's reported cost")
    browser.find_element(By.ID, "project-save").click()
    wait_for(browser, "#project-saved")
    screenshot(browser, "settings-cost-preference")
    assert running.service.metadata.require_project("default").cost_preference == "reported"
    assert "within 30 seconds" in browser.find_element(By.ID, "project-message").text
    running.service.pipeline.prices.refresh()  # what the collector does by itself within 30 s

    call = Call(0xC057, 1, input_tokens=1000, output_tokens=200, extra={"gen_ai.usage.cost": 0.0002})
    running.send_calls(call)
    browser.get(running.ui_url + f"/traces/{0xC057:032x}?range=7d")
    shown = wait_for(browser, ".cost-comparison").text
    # gpt-4o-mini list price: 1000 x $0.15/M + 200 x $0.60/M = $0.00027; the app said $0.0002.
    assert "reported by the app $0.0002 (-25.9% against llmpulse's price) — counts" in shown
    assert "llmpulse's price $0.00027" in shown and shown.count("counts") == 1
    screenshot(browser, "trace-cost-comparison")
    assert console_errors(browser) == []
