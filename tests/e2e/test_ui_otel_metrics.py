"""The Overview's "From OTLP metrics" section in real headless Chromium: shown beside the span
figures when the project sent metric points in the range, alone when it sent only metrics, and
not at all without them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from selenium.webdriver.common.by import By

from tests import corpus
from tests.conftest import Running, make_settings, start_service
from tests.e2e.browser import browser, console_errors, screenshot, wait_for, wait_idle  # noqa: F401 (the fixture)
from tests.integration.test_corpus_ingest import post_run
from tests.integration.test_otel_metrics import CHAT, durations
from tests.metric_requests import Point

pytestmark = [pytest.mark.slow, corpus.needs_corpus]
CORPUS_DAY = "from=2026-11-23T09:00:00&to=2026-11-23T11:00:00"  # the openlit run: 09:45 UTC
METRICS_ONLY_DAY = "from=2026-11-20T00:00:00&to=2026-11-21T00:00:00"
HOUR = 3600 * 10**9
NOV20 = 1795132800 * 10**9  # 2026-11-20T00:00:00Z


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory, chdb_dsn: str) -> Iterator[Running]:
    running = start_service(make_settings(tmp_path_factory.mktemp("ui-otel"), chdb_dsn))
    post_run(running, "openlit-openai")  # its traces, logs and metrics
    for hour in range(1, 24):  # an app whose traces are all sampled away: a cumulative run over a day
        body = durations(Point(NOV20, NOV20 + hour * HOUR, [hour, 2 * hour, hour, 0, 0], 1.0 * hour, CHAT))
        assert running.post_otlp("/v1/metrics", body, {"Content-Type": "application/x-protobuf"}).status_code == 200
    running.flush()
    yield running
    running.service.stop()


def open_overview(browser, running: Running, search: str) -> None:  # noqa: F811
    browser.get(f"{running.ui_url}/?{search}")
    wait_for(browser, "#page h1")
    wait_idle(browser)


def test_metrics_section_beside_the_span_figures(filled: Running, browser) -> None:  # noqa: F811
    open_overview(browser, filled, CORPUS_DAY)
    section = browser.find_element(By.ID, "otel-metrics")
    assert "From OTLP metrics" in section.text and "stay complete when traces are sampled" in section.text
    assert "gen_ai.usage.cost" in browser.find_element(By.ID, "otel-metrics-names").text
    assert len(section.find_elements(By.CSS_SELECTOR, ".js-plotly-plot")) == 4
    assert browser.find_elements(By.ID, "kpi-requests")  # the span figures are there too
    browser.execute_script("document.getElementById('otel-metrics').scrollIntoView()")
    screenshot(browser, "overview-otel-metrics")
    assert console_errors(browser) == []


def test_an_app_that_sends_only_metrics_still_gets_its_trends(filled: Running, browser) -> None:  # noqa: F811
    open_overview(browser, filled, METRICS_ONLY_DAY)
    # the project has calls on other days: this range has none, and says so (not the first-span help)
    assert "No calls in this range" in browser.find_element(By.ID, "overview-empty").text
    section = browser.find_element(By.ID, "otel-metrics")
    assert "From OTLP metrics" in section.text
    assert len(section.find_elements(By.CSS_SELECTOR, ".js-plotly-plot")) == 2  # requests, duration
    missing = browser.find_element(By.ID, "otel-metrics-missing").text
    assert "Tokens by type" in missing and "Time to first token" in missing
    screenshot(browser, "overview-metrics-only")
    assert console_errors(browser) == []


def test_no_section_without_metric_points(filled: Running, browser) -> None:  # noqa: F811
    open_overview(browser, filled, "from=2026-11-25T00:00:00&to=2026-11-26T00:00:00")
    assert browser.find_element(By.ID, "otel-metrics").text == ""
