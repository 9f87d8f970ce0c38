"""The trace view, a user's page and a session's page in real headless Chromium, over demo data sent
by the real OTel exporter: the header's totals are the API's, nothing reads as a Python repr, and
the user and session pages are reached by clicking their links."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from dashboard.ui.span_fields import usd_total
from llmpulse.demo.send import run_demo
from tests.conftest import Running, make_settings, start_service
from tests.e2e.browser import browser, console_errors, screenshot, wait_for, wait_idle  # noqa: F401 (the fixture)
from tests.spans import Call

pytestmark = pytest.mark.slow
# What a raw dump showed: an exponent, Python's None and nan, a list's repr.
RAW = {"exponent": re.compile(r"\de-0\d"), "None": re.compile(r"\bNone\b"), "nan": re.compile(r"\bnan\b"),
       "list repr": re.compile(r"\['")}
# A chart's bar widths in pixels, and the x axis's pixels per millisecond (plotly's own layout).
BAR_WIDTHS = """const gd = document.querySelector('#' + arguments[0] + ' .js-plotly-plot'), ax = gd._fullLayout.xaxis;
return [Array.from(gd.querySelectorAll('g.point path')).map(p => p.getBBox().width),
        ax._length / (new Date(ax.range[1] + 'Z') - new Date(ax.range[0] + 'Z'))];"""


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, chdb_dsn: str) -> Iterator[Running]:
    running = start_service(make_settings(tmp_path_factory.mktemp("trace-view"), chdb_dsn))
    run_demo(running.otlp_url, traces=60, seed=5, days=0.25)
    running.flush()  # every span queryable before the first test reads
    yield running
    running.service.stop()


@pytest.fixture(scope="module")
def busy_trace(demo: Running) -> dict:
    """A trace of several calls that names its user and session."""
    listed = demo.get("/api/v1/traces", sort="llm_calls", limit=100).json()["traces"]
    return next(t for t in listed if t["user_id"] and t["session_id"] and t["llm_calls"] >= 2)


def open_trace(browser, demo: Running, trace_id: str) -> None:  # noqa: F811
    browser.set_window_size(1440, 900)
    browser.get(demo.ui_url + f"/traces/{trace_id}?range=7d")
    wait_for(browser, "#trace-header")
    wait_for(browser, "#waterfall .main-svg")
    wait_idle(browser)


def raw_values(text: str) -> dict[str, list[str]]:
    return {name: pattern.findall(text) for name, pattern in RAW.items() if pattern.search(text)}


def tile(browser, tile_id: str) -> str:  # noqa: F811
    return browser.find_element(By.CSS_SELECTOR, f"#{tile_id} .value").text


def test_the_trace_header_shows_the_apis_totals_and_no_raw_values(demo: Running, busy_trace: dict,
                                                                   browser) -> None:  # noqa: F811
    totals = demo.get(f"/api/v1/traces/{busy_trace['trace_id']}").json()["totals"]
    open_trace(browser, demo, busy_trace["trace_id"])
    assert tile(browser, "trace-calls") == f"{totals['calls']:,}"
    assert tile(browser, "trace-tokens-in") == f"{totals['input_tokens']:,}"
    assert tile(browser, "trace-tokens-out") == f"{totals['output_tokens']:,}"
    assert tile(browser, "trace-tokens-cached") == f"{totals['cache_read_tokens']:,}"
    assert tile(browser, "trace-cost") == usd_total(totals["cost"])
    assert browser.find_element(By.ID, "trace-user").text == busy_trace["user_id"]
    assert browser.find_element(By.ID, "trace-session").text == busy_trace["session_id"]
    assert raw_values(browser.find_element(By.ID, "page").text) == {}
    assert not browser.find_elements(By.CSS_SELECTOR, "#waterfall .modebar")  # no toolbar over the bars
    legend = {e.text for e in browser.find_elements(By.CSS_SELECTOR, "#waterfall .legendtext")}
    assert "LLM call" in legend
    ticks = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#waterfall .xtick text")]  # "1,000" ms
    assert any("," in t for t in ticks) and all(len(t.replace(",", "")) < 4 or "," in t for t in ticks), ticks
    screenshot(browser, "trace-view-header")
    panel = browser.find_element(By.CSS_SELECTOR, ".span-panel[open] .fields")
    browser.execute_script("arguments[0].scrollIntoView({block: 'start'})", panel)
    screenshot(browser, "trace-view-span")
    assert console_errors(browser) == []


def test_the_user_link_opens_the_users_page_with_their_calls(demo: Running, busy_trace: dict,
                                                             browser) -> None:  # noqa: F811
    open_trace(browser, demo, busy_trace["trace_id"])
    browser.find_element(By.ID, "trace-user").click()
    WebDriverWait(browser, 20).until(lambda d: "/users/" in d.current_url)
    wait_for(browser, "#user-calls .value")
    wait_idle(browser)
    assert browser.find_element(By.ID, "user-id").text == busy_trace["user_id"]
    window = {k: v[-1] for k, v in parse_qs(urlsplit(browser.current_url).query).items()}
    expected = demo.get(f"/api/v1/users/{busy_trace['user_id']}", **window_of(window)).json()["summary"]
    assert tile(browser, "user-calls") == f"{expected['requests']:,}" and expected["requests"] > 0
    assert tile(browser, "user-spend") == usd_total(expected["cost"]["total"])
    sessions = browser.find_element(By.ID, "user-session-table").text
    assert busy_trace["session_id"] in sessions
    assert raw_values(browser.find_element(By.ID, "page").text) == {}
    screenshot(browser, "user-page")
    assert console_errors(browser) == []


def test_the_session_link_opens_its_transcript_and_traces_in_order(demo: Running, busy_trace: dict,
                                                                   browser) -> None:  # noqa: F811
    open_trace(browser, demo, busy_trace["trace_id"])
    browser.find_element(By.ID, "trace-session").click()
    WebDriverWait(browser, 20).until(lambda d: "/sessions/" in d.current_url)
    wait_for(browser, "#session-trace-table")
    wait_idle(browser)
    window = {k: v[-1] for k, v in parse_qs(urlsplit(browser.current_url).query).items()}
    expected = demo.get(f"/api/v1/sessions/{busy_trace['session_id']}", **window_of(window)).json()
    turns = browser.find_elements(By.CSS_SELECTOR, "#transcript .turn")
    assert len(turns) == len(expected["transcript"]) > 0
    assert [t.get_attribute("class").split()[-1] for t in turns] == [t["role"] for t in expected["transcript"]]
    links = browser.find_elements(By.CSS_SELECTOR, "#session-trace-table .trace-row a")
    listed = [a.get_attribute("href").split("?")[0].rsplit("/", 1)[1] for a in links]
    assert listed == [t["trace_id"] for t in expected["traces"]] and busy_trace["trace_id"] in listed
    assert raw_values(browser.find_element(By.ID, "page").text) == {}
    screenshot(browser, "session-page")
    assert console_errors(browser) == []


def window_of(query: dict[str, str]) -> dict[str, str]:
    """The API's from/to for a page's URL: a custom window as is; the tests' `range=7d` is the API's default."""
    assert "from" in query or query.get("range") == "7d", query
    return {"from": query["from"], "to": query["to"]} if "from" in query else {}


def test_the_trace_list_and_the_costs_by_user_link_to_the_user_and_session_pages(demo: Running, busy_trace: dict,
                                                                                 browser) -> None:  # noqa: F811
    user, session = busy_trace["user_id"], busy_trace["session_id"]
    browser.get(demo.ui_url + f"/traces?range=7d&user={user}")
    wait_for(browser, "a.user-link")
    assert {urlsplit(a.get_attribute("href")).path for a in browser.find_elements(By.CSS_SELECTOR, "a.user-link")} \
        == {f"/users/{user}"}
    assert f"/sessions/{session}" in {urlsplit(a.get_attribute("href")).path
                                      for a in browser.find_elements(By.CSS_SELECTOR, "a.session-link")}
    browser.get(demo.ui_url + "/costs?range=7d&by=user")
    wait_for(browser, "#cost-table a.user-link")
    users = {a.text: urlsplit(a.get_attribute("href")).path
             for a in browser.find_elements(By.CSS_SELECTOR, "#cost-table a.user-link")}
    assert users[user] == f"/users/{user}"
    browser.find_element(By.CSS_SELECTOR, f"#cost-table a.user-link[href^='/users/{user}']").click()
    WebDriverWait(browser, 20).until(lambda d: urlsplit(d.current_url).path == f"/users/{user}")
    assert console_errors(browser) == []


def test_a_users_lone_hour_of_calls_is_a_bar_an_hour_wide(demo: Running, browser) -> None:  # noqa: F811
    """Plotly draws a lone bar on a date axis a millisecond wide: a user with one call saw no bar."""
    demo.send_calls(Call(9001, user="lone-user", start_ns=time.time_ns() - 30 * 60 * 10**9))
    browser.get(demo.ui_url + "/users/lone-user?range=24h")
    wait_for(browser, "#user-calls-chart g.point path")
    wait_idle(browser)
    for chart in ("user-calls-chart", "user-spend-chart"):
        widths, px_per_ms = browser.execute_script(BAR_WIDTHS, chart)
        assert widths and min(widths) >= 0.7 * 3_600_000 * px_per_ms, (chart, widths, 3_600_000 * px_per_ms)
    assert console_errors(browser) == []
