"""The Overview in real headless Chromium over calls sent at explicit times: the charts' x-axis is the
selected range whatever part of it holds calls, an empty range says so, the tiles and the table by
model agree with the API's summary (also for calls that reach minutes the rollup already holds),
and "vs previous" says n/a when there is nothing to compare with.

Every call's time is an offset from `ANCHOR`, the minute the fixture starts in; presets end at the
moment the page renders, so their checks bound the axis by the moments before and after loading.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from dashboard.ui import format as fmt
from tests.conftest import Running, api, make_settings, run_detector, start_service
from tests.e2e.browser import browser, console_errors, screenshot, wait_for, wait_idle, wait_text  # noqa: F401
from tests.spans import Call

pytestmark = pytest.mark.slow
MODELS = {"gpt-4o-mini": 450.0, "claude-3-5-haiku": 900.0}  # one duration per model: exact and t-digest p95 agree
AXIS_JS = ("const g = document.querySelector(arguments[0] + ' .js-plotly-plot');"
           "return g && g.layout && g.layout.xaxis ? g.layout.xaxis.range : null;")
MODES_JS = "return document.querySelector('#chart-0 .js-plotly-plot').data.map(t => t.mode);"


def calls_at(anchor: datetime, first_trace: int, offsets_min: list[float]) -> list[Call]:
    """A call per offset (minutes before `anchor`), models alternating, every fifth one failing."""
    models = list(MODELS)
    calls = []
    for i, minutes in enumerate(offsets_min):
        model = models[i % len(models)]
        start = anchor - timedelta(minutes=minutes)
        calls.append(Call(first_trace + i, 1, model=model, start_ns=int(start.timestamp() * 1e9),
                          duration_ms=MODELS[model], input_tokens=100 + i, output_tokens=10 + i, error=i % 5 == 4,
                          ttft_ms=120.0))
    return calls


@pytest.fixture(scope="module")
def recent(tmp_path_factory: pytest.TempPathFactory, chdb_dsn: str) -> Iterator[tuple[Running, datetime]]:
    """30 calls in the half hour before the anchor, nothing earlier: a fresh install's first minutes."""
    running = start_service(make_settings(tmp_path_factory.mktemp("ui-overview"), chdb_dsn))
    anchor = datetime.now(UTC).replace(second=0, microsecond=0)
    running.send_calls(*calls_at(anchor, 1, [i + 0.5 for i in range(30)]))
    yield running, anchor
    running.service.stop()


def axis(driver, graph: str = "#chart-0") -> tuple[datetime, datetime]:
    """The plotted x-axis range of a chart, as plotly.js holds it (naive UTC strings)."""
    WebDriverWait(driver, 20).until(lambda d: d.execute_script(AXIS_JS, graph))
    low, high = driver.execute_script(AXIS_JS, graph)
    return tuple(datetime.fromisoformat(t).replace(tzinfo=UTC) for t in (low, high))  # type: ignore[return-value]


def load(driver, url: str) -> tuple[datetime, datetime]:
    """Open `url` and wait for it to settle; the moments before and after, which bound a preset's end."""
    before = datetime.now(UTC)
    driver.get(url)
    wait_for(driver, "#kpi-requests .value")
    wait_idle(driver)
    return before, datetime.now(UTC)


def viewport(driver) -> None:
    """1440x900 of page, as the screenshots are looked at (a window size would include the browser's frame)."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 1440, "height": 900, "deviceScaleFactor": 1, "mobile": False})


def summary(running: Running, start: datetime, end: datetime, **params: object) -> dict:
    return api(running, "GET", "/metrics/summary", **{"from": start.isoformat(), "to": end.isoformat()},
               **params).json()


def tile(driver, metric: str, part: str = "value") -> str:
    return driver.find_element(By.CSS_SELECTOR, f"#kpi-{metric} .{part}").text


@pytest.mark.parametrize("preset", ["24h", "7d"])
def test_a_preset_range_is_the_whole_x_axis_with_markers(recent, browser, preset: str) -> None:  # noqa: F811
    running, _ = recent
    viewport(browser)
    before, after = load(browser, running.ui_url + f"/?range={preset}")
    wait_for(browser, "#chart-0 .main-svg")
    low, high = axis(browser)
    span = {"24h": timedelta(days=1), "7d": timedelta(days=7)}[preset]
    assert before - timedelta(seconds=1) <= high <= after + timedelta(seconds=1)
    assert abs((high - low) - span) < timedelta(seconds=1)  # the range, not the half hour that holds calls
    assert set(browser.execute_script(MODES_JS)) == {"lines+markers"}  # a lone bucket is drawn
    screenshot(browser, f"overview-{preset}")
    assert console_errors(browser) == []


def test_a_custom_range_is_the_x_axis_with_calls_in_a_small_part(recent, browser) -> None:  # noqa: F811
    running, anchor = recent
    start, end = anchor - timedelta(days=2), anchor + timedelta(hours=1)
    load(browser, running.ui_url + f"/?from={start:%Y-%m-%dT%H:%M}&to={end:%Y-%m-%dT%H:%M}")
    assert axis(browser) == (start, end)
    assert axis(browser, "#chart-3") == (start, end)  # every time chart
    assert console_errors(browser) == []


def test_an_empty_range_says_no_calls_instead_of_an_empty_chart(recent, browser) -> None:  # noqa: F811
    running, anchor = recent
    start, end = anchor - timedelta(days=10), anchor - timedelta(days=9)
    viewport(browser)
    browser.get(running.ui_url + f"/?from={start:%Y-%m-%dT%H:%M}&to={end:%Y-%m-%dT%H:%M}")
    wait_text(browser, "#overview-empty", "No calls in this range")
    assert not browser.find_elements(By.CSS_SELECTOR, "#chart-0") and not browser.find_elements(By.ID, "kpi-requests")
    assert browser.find_elements(By.ID, "range-apply")  # the range can be changed from here
    screenshot(browser, "overview-empty-range")
    assert console_errors(browser) == []


def test_tiles_equal_the_summary_and_say_na_vs_an_empty_previous_period(recent, browser) -> None:  # noqa: F811
    running, anchor = recent
    start, end = anchor - timedelta(hours=1), anchor + timedelta(minutes=1)
    load(browser, running.ui_url + f"/?from={start:%Y-%m-%dT%H:%M}&to={end:%Y-%m-%dT%H:%M}")
    total = summary(running, start, end)["total"]
    assert tile(browser, "requests") == fmt.count(total["requests"]) == "30"
    assert tile(browser, "cost_total") == fmt.usd(total["cost"]["total"])
    assert tile(browser, "error_rate") == fmt.pct(total["errors"] / total["requests"])
    assert tile(browser, "latency_p95_ms") == fmt.ms(total["latency_ms"]["p95"])
    for metric in ("requests", "cost_total", "error_rate"):
        assert tile(browser, metric, "change") == "n/a vs previous"  # nothing before the first call


def test_the_table_by_model_equals_the_summary_and_links_to_filtered_pages(recent, browser) -> None:  # noqa: F811
    running, anchor = recent
    start, end = anchor - timedelta(hours=1), anchor + timedelta(minutes=1)
    search = f"from={start:%Y-%m-%dT%H:%M}&to={end:%Y-%m-%dT%H:%M}"
    viewport(browser)
    load(browser, running.ui_url + "/?" + search)
    browser.execute_script("document.getElementById('overview-models').scrollIntoView()")
    screenshot(browser, "overview-models")
    groups = summary(running, start, end, group_by="model")["groups"]
    rows = browser.find_elements(By.CSS_SELECTOR, "#overview-models .model-row")
    assert [r.find_element(By.CSS_SELECTOR, ".model").text for r in rows] == [g["key"]["model"] for g in groups]
    for row, group in zip(rows, groups, strict=True):
        cell = {name: row.find_element(By.CSS_SELECTOR, f".{name}").text for name in
                ("requests", "errors", "latency_p95_ms", "ttft_p95_ms", "input_tokens", "output_tokens",
                 "cost_total", "cost_per_request")}
        cost, g = group["cost"]["total"], group
        assert cell == {"requests": fmt.full(g["requests"]), "errors": fmt.full(g["errors"]),
                        "latency_p95_ms": fmt.ms(g["latency_ms"]["p95"]), "ttft_p95_ms": fmt.ms(g["ttft_ms"]["p95"]),
                        "input_tokens": fmt.tokens(g["input_tokens"]), "output_tokens": fmt.tokens(g["output_tokens"]),
                        "cost_total": fmt.usd(cost), "cost_per_request": fmt.usd(cost / g["requests"])}
        model = group["key"]["model"]
        traces = row.find_element(By.CSS_SELECTOR, ".model-traces").get_attribute("href")
        costs = row.find_element(By.CSS_SELECTOR, ".model-costs").get_attribute("href")
        assert "/traces?" in traces and f"model={model}" in traces and "from=" in traces
        assert "/costs?" in costs and f"model={model}" in costs
    rows[0].find_element(By.CSS_SELECTOR, ".model-traces").click()
    WebDriverWait(browser, 20).until(lambda d: "/traces?" in d.current_url)
    assert f"model={groups[0]['key']['model']}" in browser.current_url
    assert console_errors(browser) == []


def test_calls_that_reach_rolled_up_minutes_late_are_in_the_tiles(recent, browser) -> None:  # noqa: F811
    """A backfill (or the demo) after a rollup run: the tiles still count every call, as the API does."""
    running, anchor = recent
    run_detector(running, "metrics")
    running.send_calls(*calls_at(anchor, 100, [180.0 + i for i in range(12)]))  # three hours back: rolled-up minutes
    start, end = anchor - timedelta(hours=6), anchor + timedelta(minutes=1)
    load(browser, running.ui_url + f"/?from={start:%Y-%m-%dT%H:%M}&to={end:%Y-%m-%dT%H:%M}")
    total = summary(running, start, end)["total"]
    assert total["requests"] == 42
    assert tile(browser, "requests") == "42"
    assert tile(browser, "cost_total") == fmt.usd(total["cost"]["total"])
    window = {"from": start.isoformat(), "to": end.isoformat()}
    costs = running.get("/api/v1/costs", **window).json()["groups"]  # the Costs page's read, and the charts'
    assert sum(g["requests"] for g in costs) == 42
    series = running.get("/api/v1/metrics/timeseries", metrics="requests", bucket="hour", **window).json()
    assert sum(p["requests"] or 0 for p in series["series"][0]["points"]) == 42
    run_detector(running, "metrics")  # once rolled up, the same figures from the rollup
    load(browser, running.ui_url + f"/?from={start:%Y-%m-%dT%H:%M}&to={end:%Y-%m-%dT%H:%M}")
    assert tile(browser, "requests") == "42"
