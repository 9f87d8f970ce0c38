"""The Quality page in real headless Chromium, against demo traffic scored and drift-checked through
the API, as a user would have it: what the page shows must agree with the JSON API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from llmpulse.demo.send import run_demo
from tests.conftest import Running, api, make_settings, run_detector, start_service
from tests.e2e.browser import browser, console_errors, screenshot, wait_for, wait_idle  # noqa: F401 (the fixture)
from tests.e2e.test_ui import XSS

pytestmark = pytest.mark.slow
PAGE = "/quality?range=7d"


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory, chdb_dsn: str) -> Iterator[Running]:
    """A day of demo traffic (with its silent model update at the midpoint), every LLM call scored,
    drift checked, and one hostile app score on the newest flagged span."""
    running = start_service(make_settings(tmp_path_factory.mktemp("ui-quality"), chdb_dsn))
    run_demo(running.otlp_url, traces=700, seed=5, days=1.0)
    running.flush()
    assert api(running, "PUT", "/projects/default", {"eval_sample_rate": 1.0}).status_code == 200
    run_detector(running, "hallucination")
    run_detector(running, "drift")
    newest = api(running, "GET", "/quality/flagged", limit=1).json()["spans"][0]
    hostile = {"trace_id": newest["trace_id"], "span_id": newest["span_id"], "name": "hallucination",
               "value": 4.0, "label": "hallucinated", "comment": XSS}
    assert api(running, "POST", "/scores", hostile).status_code == 201
    yield running
    running.service.stop()


def test_the_page_shows_the_rate_with_its_band_and_sample_sizes(scored: Running, browser) -> None:  # noqa: F811
    browser.get(scored.ui_url + PAGE)
    wait_for(browser, "#quality-rate .main-svg")
    wait_for(browser, "#quality-flagged .flagged-row")
    wait_idle(browser)  # the other figures done drawing
    assert browser.find_elements(By.CSS_SELECTOR, "#quality-rate .js-fill")  # the 95% band
    assert browser.find_elements(By.CSS_SELECTOR, "#quality-rate .bars .point")  # spans scored per bucket
    screenshot(browser, "quality")
    assert console_errors(browser) == []
    total = api(scored, "GET", "/quality/hallucination").json()["total"]
    tiles = browser.find_element(By.ID, "quality-summary").text
    assert f"{total['rate'] * 100:.1f}%" in tiles and f"{total['ci_low'] * 100:.1f}% to" in tiles


def test_the_model_and_scorer_tables_agree_with_the_api(scored: Running, browser) -> None:  # noqa: F811
    browser.get(scored.ui_url + PAGE)
    wait_for(browser, "#quality-by-model")
    groups = api(scored, "GET", "/quality/hallucination", group_by="model").json()["groups"]
    rows = browser.find_elements(By.CSS_SELECTOR, "#quality-by-model tbody tr")
    assert [r.find_element(By.CSS_SELECTOR, "td").text for r in rows] == [g["key"] for g in groups]
    scorers = browser.find_element(By.ID, "quality-by-scorer").text
    assert "groundedness" in scorers and "app:hallucination" in scorers
    assert len(browser.find_elements(By.CSS_SELECTOR, "#quality-scores .main-svg")) >= 2  # a histogram per scorer


def test_a_flagged_span_opens_its_trace(scored: Running, browser) -> None:  # noqa: F811
    browser.get(scored.ui_url + PAGE)
    link = wait_for(browser, "#quality-flagged .flagged-row a")
    link.click()
    wait_for(browser, "#waterfall .main-svg")
    assert "/traces/" in browser.current_url and "range=7d" in browser.current_url  # the filters are kept
    assert console_errors(browser) == []


def test_a_hostile_score_comment_stays_inert(scored: Running, browser) -> None:  # noqa: F811
    browser.get(scored.ui_url + PAGE)
    wait_for(browser, "#quality-flagged .flagged-row")
    reason = browser.find_element(By.CSS_SELECTOR, "#quality-flagged .flagged-row td.reason").text
    assert reason == XSS  # the newest flagged span carries the app's verdict: shown as text, verbatim
    assert browser.execute_script("return window.__xss") is None
    assert not browser.find_elements(By.CSS_SELECTOR, "#quality-flagged img")


def test_picking_a_model_narrows_the_page(scored: Running, browser) -> None:  # noqa: F811
    browser.get(scored.ui_url + PAGE + "&model=gpt-4o-mini")
    wait_for(browser, "#quality-by-model tr.selected")
    assert browser.find_element(By.CSS_SELECTOR, "#quality-by-model tr.selected td").text == "gpt-4o-mini"
    models = {r.find_elements(By.CSS_SELECTOR, "td")[1].text
              for r in browser.find_elements(By.CSS_SELECTOR, "#quality-flagged .flagged-row")}
    assert models <= {"gpt-4o-mini"}
    other = browser.find_elements(By.CSS_SELECTOR, "#quality-by-model tbody tr:not(.selected) a")[0]
    name = other.text
    other.click()
    WebDriverWait(browser, 20).until(lambda d: f"model={name}" in d.current_url)
    WebDriverWait(browser, 20).until(lambda d: selected_model(d) == name)  # the page re-renders for the new model
    assert console_errors(browser) == []


def selected_model(driver) -> str | None:
    cells = driver.find_elements(By.CSS_SELECTOR, "#quality-by-model tr.selected td")
    try:
        return cells[0].text if cells else None
    except StaleElementReferenceException:
        return None


def test_drift_events_show_with_the_features_that_moved(scored: Running, browser) -> None:  # noqa: F811
    events = api(scored, "GET", "/drift").json()
    assert any(e["kind"] == "model_change" for e in events), events  # the demo's silent update
    browser.get(scored.ui_url + PAGE)
    wait_for(browser, "#quality-drift .drift-event")
    shown = browser.find_elements(By.CSS_SELECTOR, "#quality-drift .drift-event")
    assert len(shown) == len(events)
    for event, panel in zip(events, shown, strict=True):
        assert event["summary"] in panel.text and event["model"] in panel.text
        charts = panel.find_elements(By.CSS_SELECTOR, ".js-plotly-plot")
        assert len(charts) == (event["kind"] == "behaviour")  # a behaviour shift shows its features
    for event, panel in zip(events, shown, strict=True):
        moved = [f["name"] for f in event["features"] if f.get("moved")]
        if event["kind"] == "behaviour" and moved:
            wait_for(browser, "#quality-drift .drift-event .main-svg")
            titles = panel.find_element(By.CSS_SELECTOR, ".js-plotly-plot").text
            assert all(name in titles for name in moved[:4]), (moved, titles)
    browser.execute_script("arguments[0].scrollIntoView()", shown[0])
    screenshot(browser, "quality-drift")
    assert console_errors(browser) == []


def test_the_overview_rate_takes_the_pages_filters_as_the_api_does(scored: Running, browser) -> None:  # noqa: F811
    services = api(scored, "GET", "/metrics/summary", group_by="service", **{"from": "0"}).json()["groups"]
    service = services[0]["key"]["service"]
    everything = api(scored, "GET", "/quality/hallucination").json()["total"]["sampled"]
    one = api(scored, "GET", "/quality/hallucination", service=service).json()["total"]["sampled"]
    assert 0 < one < everything, (service, one, everything)
    browser.get(scored.ui_url + f"/?range=7d&service={service}")
    wait_for(browser, "#kpi-hallucination_rate .change")
    assert browser.find_element(By.CSS_SELECTOR, "#kpi-hallucination_rate .change").text == f"{one} scored"
