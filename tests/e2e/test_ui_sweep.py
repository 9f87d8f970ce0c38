"""Every page with the demo's data, in real Chromium at 1440x900: no number in an exponent ("$3.6e-05"),
no Python value leaking into the page ("None", "nan", "['a', 'b']"), in the text or in a chart's
own text (titles, legends, ticks). Each page's screenshot goes to test-output/screenshots/sweep-*.png.

The pages come from the router (dashboard.ui.app.pages and the Evaluations section's fixed paths),
plus one of each page a name or an id opens: a trace, the golden dataset, an experiment, a comparison,
the demo's A/B test and shadow pairs, a user and a session; the demo's example alert rules have fired.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from selenium.webdriver import Chrome
from selenium.webdriver.common.by import By

from dashboard.ui.app import pages
from dashboard.ui.pages.evaluations import common
from llmpulse.demo.alerts import add_example_rules
from llmpulse.demo.evaluations import DemoApi, EvaluationsReport, run_evaluations
from llmpulse.demo.golden import DATASET
from llmpulse.demo.rollout import pages as rollout_pages
from llmpulse.demo.send import run_demo
from tests.conftest import Running, api, make_settings, start_service
from tests.e2e.browser import SCREENSHOTS, browser, screenshot, wait_for, wait_idle  # noqa: F401 (the fixture)

pytestmark = pytest.mark.slow
LEAKS = {"an exponent": re.compile(r"\d\.?\d*e-\d"), "None": re.compile(r"\bNone\b"),
         "nan": re.compile(r"\b(nan|NaN)\b"), "a list's repr": re.compile(r"\['")}
# The text plotly draws in a chart's SVG (titles, legends, tick labels, annotations).
CHART_TEXT = "return Array.from(document.querySelectorAll('#page svg text')).map(t => t.textContent).join('\\n');"


class Demo:
    def __init__(self, running: Running, report: EvaluationsReport) -> None:
        self.running, self.report = running, report


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, chdb_dsn: str) -> Iterator[Demo]:
    running = start_service(make_settings(tmp_path_factory.mktemp("sweep"), chdb_dsn))
    sent = run_demo(running.otlp_url, traces=120, seed=5, days=0.5)
    report = run_evaluations(DemoApi(running.ui_url), running.otlp_url, answers=sent.rag_answers)
    assert not report.skipped, report.describe()
    assert add_example_rules(DemoApi(running.ui_url)).startswith("added ")  # so Alerts has incidents to show
    assert api(running, "POST", "/detectors/run").status_code == 200
    yield Demo(running, report)
    running.service.stop()


def every_page(demo: Demo) -> list[str]:
    """The router's pages, then one page of each kind a name or an id opens."""
    traces = api(demo.running, "GET", "/traces", limit=200).json()["traces"]
    person = next(t for t in traces if t["user_id"] and t["session_id"])
    baseline, candidate = (e["name"] for e in demo.report.experiments)
    return [*pages(), f"/traces/{traces[0]['trace_id']}", f"{common.DATASETS}/{quote(DATASET, safe='')}",
            f"{common.EXPERIMENTS}/{quote(baseline, safe='')}",
            f"{common.COMPARE}?baseline={quote(baseline)}&candidate={quote(candidate)}",
            *rollout_pages(), f"/users/{quote(person['user_id'], safe='')}",
            f"/sessions/{quote(person['session_id'], safe='')}"]


def test_every_page_reads_as_plain_numbers_and_words(demo: Demo, browser) -> None:  # noqa: F811
    browser.set_window_size(1440, 900)
    found: dict[str, list[str]] = {}
    for path in every_page(demo):
        browser.get(demo.running.ui_url + path)
        wait_for(browser, "#page h1")
        wait_idle(browser)
        text = browser.find_element(By.TAG_NAME, "body").text + "\n" + browser.execute_script(CHART_TEXT)
        name = "sweep-" + (re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-")[:60] or "overview")
        screenshot(browser, name)
        _whole_page(browser, name + "-full")
        leaks = [f"{kind}: {_around(text, match)!r}" for kind, pattern in LEAKS.items()
                 for match in pattern.finditer(text)]
        if leaks:
            found[path] = leaks[:8]
    assert not found, "\n".join(f"{path}: {leak}" for path, leaks in found.items() for leak in leaks)


def _whole_page(driver: Chrome, name: str) -> None:
    """The whole page, below the fold too (Chromium's own capture), to look at every chart and table."""
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"captureBeyondViewport": True, "fromSurface": True})
    (SCREENSHOTS / f"{name}.png").write_bytes(base64.b64decode(shot["data"]))


def _around(text: str, match: re.Match[str]) -> str:
    return text[max(match.start() - 30, 0):match.end() + 30]
