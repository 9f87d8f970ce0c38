"""The Quality page before the hallucination scorer reached the calls, in real headless Chromium: it
says when the scorer runs next (from its scheduled runs, with the scheduler on as in production)
and an admin's "run now" scores the calls and fills the page, through the runner the API uses."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from selenium.webdriver.common.by import By

from dashboard.ui import format as fmt
from llmpulse.demo.send import run_demo
from tests.conftest import Running, api, make_settings, start_service, wait_for
from tests.e2e import browser as pages
from tests.e2e.browser import browser, console_errors, screenshot, wait_text  # noqa: F401 (the fixture)
from tests.e2e.test_ui_overview import viewport

pytestmark = pytest.mark.slow
PAGE = "/quality?range=7d"


def hallucination_runs(running: Running) -> list[dict]:
    return api(running, "GET", "/detectors/runs", detector="hallucination").json()["runs"]


@pytest.fixture(scope="module")
def unscored(tmp_path_factory: pytest.TempPathFactory, chdb_dsn: str) -> Iterator[Running]:
    """The scheduler on: every detector runs once at start (before any call), then on its interval
    (five minutes for the scorer); demo calls arrive after that first run, with a sample rate set."""
    running = start_service(make_settings(tmp_path_factory.mktemp("ui-quality-runs"), chdb_dsn, detectors=True))
    wait_for(lambda: any(r["finished_at"] for r in hallucination_runs(running)), 60, "no scheduled scorer run")
    run_demo(running.otlp_url, traces=80, seed=7, days=0.5)
    running.flush()
    assert api(running, "PUT", "/projects/default", {"eval_sample_rate": 1.0}).status_code == 200
    yield running
    running.service.stop()


def test_the_page_says_when_the_scorer_runs_next_and_run_now_fills_it(unscored: Running, browser) -> None:  # noqa: F811
    viewport(browser)
    browser.get(unscored.ui_url + PAGE)
    pages.wait_for(browser, "#quality-scorer-next")
    (first,) = hallucination_runs(unscored)  # the scheduled run at start; the next is five minutes on
    due = datetime.fromisoformat(first["started_at"]) + timedelta(seconds=300)
    line = browser.find_element(By.ID, "quality-scorer-next").text
    assert f"next scheduled run about {fmt.when(due)} (every 5 min)" in line, line
    empty = browser.find_element(By.ID, "quality-rate").text
    assert "yet" in empty and "100.0%" in empty and "PUT /api/v1/projects" not in empty  # not the sample-rate hint
    screenshot(browser, "quality-before-scoring")
    browser.find_element(By.ID, "quality-run-now").click()
    wait_text(browser, "#quality-run-answer", "Scorer ran", timeout=120)
    pages.wait_for(browser, "#quality-rate .main-svg")
    pages.wait_idle(browser)
    assert browser.find_elements(By.CSS_SELECTOR, "#quality-rate .js-fill")  # the 95% band
    total = api(unscored, "GET", "/quality/hallucination").json()["total"]
    assert total["sampled"] > 0 and fmt.count(total["sampled"]) in browser.find_element(By.ID, "quality-summary").text
    assert hallucination_runs(unscored)[0]["trigger"] == "manual"  # the API's runner, as POST /detectors/run
    screenshot(browser, "quality-after-run-now")
    assert console_errors(browser) == []
