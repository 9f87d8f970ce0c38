"""The Dash UI in real headless Chromium, against a service filled by the real OTel exporter."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from llmpulse.demo.send import run_demo
from tests.conftest import Running, make_settings, start_service
from tests.e2e.browser import (  # noqa: F401 (the fixture)
    browser,
    choose,
    console_errors,
    dash_idle,
    screenshot,
    wait_for,
    wait_idle,
    wait_text,
)
from tests.spans import Call

pytestmark = pytest.mark.slow
PAGES = ("/", "/traces", "/costs", "/quality", "/evaluations", "/evaluations/datasets", "/evaluations/experiments",
         "/evaluations/compare", "/evaluations/ab", "/evaluations/shadow", "/annotate", "/alerts", "/settings")
XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=1</script>'


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory, chdb_dsn: str) -> Iterator[Running]:
    running = start_service(make_settings(tmp_path_factory.mktemp("ui"), chdb_dsn))
    run_demo(running.otlp_url, traces=120, seed=3, days=0.5)
    hostile = Call(77, 1, extra={"gen_ai.output.messages": json.dumps([{"role": "assistant", "content": XSS}]),
                                 "gen_ai.input.messages": json.dumps([{"role": "user", "content": "hi"}])})
    running.send_calls(hostile)
    yield running
    running.service.stop()


@pytest.mark.parametrize("path", PAGES)
def test_every_page_loads_without_console_errors(filled: Running, browser, path: str) -> None:  # noqa: F811
    browser.get(filled.ui_url + path)
    wait_for(browser, "#page h1")
    wait_idle(browser)  # late callbacks and figures done
    assert browser.find_element(By.CSS_SELECTOR, "#page h1").text
    screenshot(browser, "page-" + (path.strip("/").replace("/", "-") or "overview"))
    assert console_errors(browser) == []


def test_a_path_with_no_page_answers_404_and_its_page_still_navigates(filled: Running, browser) -> None:  # noqa: F811
    """Every page answers 200 and loads (above); a path with none answers 404, and the shell it still
    serves says so and keeps the navigation working."""
    assert {path: filled.get(path).status_code for path in PAGES} == dict.fromkeys(PAGES, 200)
    assert filled.get("/metrics").status_code == 200 and filled.get("/no-such-page").status_code == 404
    browser.get(filled.ui_url + "/no-such-page")
    wait_text(browser, "#page h1", "Page not found")
    screenshot(browser, "page-not-found")
    browser.find_element(By.LINK_TEXT, "Traces").click()
    WebDriverWait(browser, 20).until(lambda d: d.current_url.split("?")[0].endswith("/traces"))
    WebDriverWait(browser, 20).until(lambda d: "Page not found" not in d.find_element(By.CSS_SELECTOR, "#page").text)
    wait_idle(browser)
    assert [e for e in console_errors(browser) if "status of 404" not in e] == []  # the document's own 404


def test_overview_shows_kpis_and_the_range_filter_changes_the_charts(filled: Running, browser) -> None:  # noqa: F811
    browser.get(filled.ui_url + "/?range=24h")
    wait_for(browser, "#kpi-requests .value")
    day = browser.find_element(By.CSS_SELECTOR, "#kpi-requests .value").text
    assert day not in ("", "\u2013", "0")
    browser.find_element(By.ID, "range-1h").click()
    WebDriverWait(browser, 20).until(lambda d: "range=1h" in d.current_url)

    def hour_shown(driver) -> bool:
        kpi = driver.find_elements(By.CSS_SELECTOR, "#kpi-requests .value")
        return dash_idle(driver) and ("No LLM calls yet" in driver.find_element(By.CSS_SELECTOR, "#page").text
                                      or (bool(kpi) and kpi[0].text != day))

    WebDriverWait(browser, 20, poll_frequency=0.1, ignored_exceptions=(StaleElementReferenceException,)).until(
        hour_shown, f"the last hour still shows the day's {day} requests")
    assert console_errors(browser) == []


def test_a_trace_opens_from_the_table_with_waterfall_and_messages(filled: Running, browser) -> None:  # noqa: F811
    browser.get(filled.ui_url + "/traces?range=7d&q=refund")
    wait_for(browser, "#trace-table .trace-row a")
    browser.find_element(By.CSS_SELECTOR, "#trace-table .trace-row a").click()
    wait_for(browser, "#waterfall .main-svg")
    assert "/traces/" in browser.current_url
    wait_for(browser, ".chat .turn")
    assert browser.find_elements(By.CSS_SELECTOR, ".chat .turn.assistant")
    screenshot(browser, "trace-view")
    assert console_errors(browser) == []


def test_the_trace_search_reads_q_and_its_alias_text_and_the_tag_filter(filled: Running, browser) -> None:  # noqa: F811
    for name in ("q", "text"):
        browser.get(filled.ui_url + f"/traces?range=7d&{name}=onerror")  # only the hostile completion has it
        wait_for(browser, "#trace-table .trace-row a")
        links = browser.find_elements(By.CSS_SELECTOR, "#trace-table .trace-row a")
        assert [a.get_attribute("href").split("?")[0].rsplit("/", 1)[1] for a in links] == [f"{77:032x}"], name
        assert browser.find_element(By.ID, "trace-search").get_attribute("value") == "onerror"
    browser.get(filled.ui_url + "/traces?range=7d&q=onerror&tag=no-such-tag")
    wait_text(browser, "#trace-table", "No traces match.")
    assert console_errors(browser) == []


def test_a_hostile_completion_stays_inert(filled: Running, browser) -> None:  # noqa: F811
    browser.get(filled.ui_url + f"/traces/{77:032x}?range=7d")
    wait_for(browser, ".chat .turn.assistant")
    shown = browser.find_element(By.CSS_SELECTOR, ".chat .turn.assistant .content").text
    assert shown == XSS  # shown as text, verbatim
    assert browser.execute_script("return window.__xss") is None
    assert not browser.find_elements(By.CSS_SELECTOR, ".chat img")
    screenshot(browser, "xss-inert")


def test_an_alert_rule_created_in_the_ui_shows_up_in_the_api(filled: Running, browser) -> None:  # noqa: F811
    browser.get(filled.ui_url + "/alerts")
    wait_for(browser, "#rule-create")
    browser.find_element(By.ID, "rule-name").send_keys("UI error rate")
    browser.find_element(By.ID, "rule-threshold").send_keys("5")
    browser.find_element(By.ID, "rule-create").click()
    wait_text(browser, "#rule-message", "threshold")  # 5 is not a rate: the validation message shows
    assert "0.05" in browser.find_element(By.ID, "rule-message").text
    threshold = browser.find_element(By.ID, "rule-threshold")
    threshold.clear()
    threshold.send_keys("0.2")
    browser.find_element(By.ID, "rule-create").click()
    wait_for(browser, "#rule-created")
    screenshot(browser, "alerts-rule-created")
    rules = [r for r in filled.get("/api/v1/alert-rules").json()["rules"] if r["name"] == "UI error rate"]
    assert [(r["metric"], r["threshold"], r["window"]) for r in rules] == [("error_rate", 0.2, "5m")]
    assert console_errors(browser) == []


def test_the_model_dropdown_narrows_the_overview_and_lands_in_the_url(filled: Running, browser) -> None:  # noqa: F811
    browser.get(filled.ui_url + "/?range=24h")
    wait_for(browser, "#kpi-requests .value")
    everything = kpi_requests(browser)
    choose(browser, "filter-model", "gpt-4o-mini")
    WebDriverWait(browser, 20).until(lambda d: "model=gpt-4o-mini" in d.current_url)
    WebDriverWait(browser, 20).until(lambda d: kpi_requests(d) not in (None, everything))
    assert 0 < kpi_requests(browser) < everything
    assert "gpt-4o-mini" in browser.find_element(By.ID, "filter-model").text
    browser.refresh()  # the filter is in the URL: a reload (or a shared link) shows the same view
    wait_for(browser, "#kpi-requests .value")
    assert "gpt-4o-mini" in browser.find_element(By.ID, "filter-model").text
    assert console_errors(browser) == []


def test_a_custom_time_range_is_applied_from_the_header(filled: Running, browser) -> None:  # noqa: F811
    browser.get(filled.ui_url + "/?range=24h")
    wait_for(browser, "#kpi-requests .value")
    everything = kpi_requests(browser)
    now = datetime.now(UTC)
    set_input(browser, "range-from", (now - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M"))
    set_input(browser, "range-to", (now + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M"))
    browser.find_element(By.ID, "range-apply").click()
    WebDriverWait(browser, 20).until(lambda d: "from=" in d.current_url and "range=" not in d.current_url)
    WebDriverWait(browser, 20).until(lambda d: kpi_requests(d) not in (None, everything))
    assert 0 < kpi_requests(browser) < everything  # the demo spreads its traces over 12 hours
    assert "active" in browser.find_element(By.CSS_SELECTOR, ".custom-range").get_attribute("class")
    screenshot(browser, "overview-custom-range")
    browser.get(filled.ui_url + "/?from=2026-11-22T00:00&to=2026-11-21T00:00")
    wait_text(browser, "#range-notice", "must be before")
    assert console_errors(browser) == []


def test_the_traces_status_filter_keeps_failed_traces_only(filled: Running, browser) -> None:  # noqa: F811
    browser.get(filled.ui_url + "/traces")
    wait_for(browser, "#filter-status")
    choose(browser, "filter-status", "error")
    WebDriverWait(browser, 20).until(lambda d: "status=error" in d.current_url)
    failed = filled.get("/api/v1/traces", status="error", limit=500).json()["total"]
    assert failed > 0
    wait_text(browser, "#trace-count", f"{failed} traces")
    assert console_errors(browser) == []


def test_the_signal_filter_finds_truncated_calls_and_the_trace_shows_why(filled: Running, browser) -> None:  # noqa: F811
    cut = Call(78, 1, finish_reason="length", extra={"gen_ai.output.type": "json", "gen_ai.output.messages": json.dumps(
        [{"role": "assistant", "parts": [{"type": "text", "content": '{"items": [1, 2'}], "finish_reason": "length"}])})
    filled.send_calls(cut)
    truncated = filled.get("/api/v1/traces", signal="truncated", limit=500).json()
    assert truncated["total"] >= 1
    browser.get(filled.ui_url + "/traces")
    wait_for(browser, "#filter-signal")
    choose(browser, "filter-signal", "truncated")
    WebDriverWait(browser, 20).until(lambda d: "signal=truncated" in d.current_url)
    wait_text(browser, "#trace-count", f"{truncated['total']} trace")
    browser.get(filled.ui_url + f"/traces/{78:032x}")
    wait_for(browser, ".signals .signal-parse_failure")
    badges = browser.find_element(By.CSS_SELECTOR, ".signals").text
    assert "parse failure" in badges and "truncated" in badges and "not valid JSON" in badges
    screenshot(browser, "trace-signals")
    assert console_errors(browser) == []


def kpi_requests(driver) -> float | None:
    """The Requests tile as a number ("1.2k" is 1200); None while the page is re-rendering."""
    text = driver.execute_script(  # one read: the tile may be replaced between find and text
        "const el = document.querySelector('#kpi-requests .value'); return el ? el.textContent : '';")
    text = text.replace(",", "")
    if not text:
        return None
    scale = {"k": 1e3, "M": 1e6}.get(text[-1], 1)
    return float(text.rstrip("kM")) * scale


def set_input(driver, element_id: str, value: str) -> None:
    """Set a date input the way the browser's picker does: the native setter, then an input event."""
    driver.execute_script(
        "const el = document.getElementById(arguments[0]);"
        "Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set.call(el, arguments[1]);"
        "el.dispatchEvent(new Event('input', {bubbles: true})); el.dispatchEvent(new Event('change', {bubbles: true}));"
        "el.dispatchEvent(new Event('blur', {bubbles: true}));", element_id, value)


def test_an_empty_project_shows_how_to_send_the_first_span(filled: Running, browser) -> None:  # noqa: F811
    browser.get(filled.ui_url + "/?project=nothing-yet")
    wait_for(browser, "#endpoint-line")
    port = filled.otlp_url.rsplit(":", 1)[1]
    assert browser.find_element(By.ID, "endpoint-line").text == (
        f"export OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:{port}")
    assert not browser.find_elements(By.ID, "demo-line")  # the demo fills the default project, not this one
    assert console_errors(browser) == []


def test_an_empty_projects_costs_page_draws_no_empty_charts(filled: Running, browser) -> None:  # noqa: F811
    browser.get(filled.ui_url + "/costs?project=nothing-yet")
    wait_for(browser, "#daily-spend")
    assert browser.find_element(By.ID, "daily-spend").text.startswith("No spend since ")
    assert not browser.find_elements(By.CSS_SELECTOR, "#page .js-plotly-plot")  # no axes around nothing
    assert "Nothing in this time range." in browser.find_element(By.ID, "page").text
    assert console_errors(browser) == []


def test_a_week_of_traces_lists_the_newest_without_counting_them(filled: Running, browser) -> None:  # noqa: F811
    browser.get(filled.ui_url + "/traces?range=7d")
    wait_text(browser, "#trace-count", "not counted over this range")
    newest_api = filled.get("/api/v1/traces", limit=1, **{"from": time.time() - 7 * 86_400}).json()["traces"][0]
    first_link = browser.find_element(By.CSS_SELECTOR, "#page table tbody tr a").get_attribute("href")
    assert first_link.split("?")[0].endswith(newest_api["trace_id"])  # the same newest trace as the counted list
    assert browser.find_elements(By.LINK_TEXT, "older →")  # 120 demo traces: more than a page
    assert console_errors(browser) == []
