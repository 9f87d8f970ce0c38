"""The Evaluations section's live-traffic pages in real headless Chromium, after the demo sent its
traffic through the OpenTelemetry SDK exporter: A/B cohorts (two prompt versions of support-bot)
and shadow pairs (gpt-4.1-mini answering chat turns beside the app's model)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from llmpulse.demo.rollout import CANDIDATE_MODEL, PROMPT_VERSION, SHADOW_OF
from llmpulse.demo.send import DemoSummary, run_demo
from tests.conftest import Running, api, make_settings, run_detectors, start_service
from tests.e2e.browser import (  # noqa: F401 (the fixture)
    browser,
    console_errors,
    screenshot,
    type_into,
    wait_for,
    wait_idle,
)
from tests.spans import Call

pytestmark = pytest.mark.slow
AB = f"/evaluations/ab?attribute={PROMPT_VERSION}&a=v1&b=v2"
PAGES = {"evals-ab": AB, "evals-ab-empty": "/evaluations/ab", "evals-shadow": "/evaluations/shadow"}
HOSTILE_TRACE = 0xA11CE
XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=1</script>'


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, chdb_dsn: str) -> Iterator[tuple[Running, DemoSummary]]:
    running = start_service(make_settings(tmp_path_factory.mktemp("ui-live"), chdb_dsn))
    sent = run_demo(running.otlp_url, traces=150, seed=7, days=0.25, now=datetime.now(UTC))
    answer = json.dumps([{"role": "assistant", "content": XSS}])  # a candidate's hostile answer, in shadow
    running.send_calls(Call(HOSTILE_TRACE, 1, model="gpt-4o"),
                       Call(HOSTILE_TRACE, 2, model="o4-mini", extra={SHADOW_OF: f"{1:016x}",
                                                                      "gen_ai.output.messages": answer}))
    running.flush()
    run_detectors(running, "cohort_rollup")  # the A/B page reads the settled hours of prompt versions rolled up
    yield running, sent
    running.service.stop()


def params(driver) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlparse(driver.current_url).query).items()}


def choices(driver, list_id: str) -> list[str]:
    try:
        return [o.get_attribute("value") for o in driver.find_elements(By.CSS_SELECTOR, f"#{list_id} option")]
    except StaleElementReferenceException:
        return []


@pytest.mark.parametrize("name", PAGES)
def test_each_page_loads_without_console_errors(demo, browser, name: str) -> None:  # noqa: F811
    running, _ = demo
    browser.get(running.ui_url + PAGES[name])
    wait_for(browser, "#evals-tabs a.active")
    wait_idle(browser)
    assert browser.find_element(By.CSS_SELECTOR, ".nav a.active").text == "Evaluations"
    assert browser.find_element(By.CSS_SELECTOR, "#evals-tabs a.active").text == \
        {"evals-shadow": "Shadow"}.get(name, "A/B")
    screenshot(browser, name)
    assert console_errors(browser) == []


def test_attribute_and_values_are_picked_from_suggestions_into_the_url(demo, browser) -> None:  # noqa: F811
    running, _ = demo
    browser.get(running.ui_url + "/evaluations/ab?range=24h")
    wait_for(browser, "#ab-hint")
    suggested = set(choices(browser, "ab-attribute-choices"))
    assert {"model", "service", "tag", PROMPT_VERSION, "service.version"} <= suggested
    assert "session" not in choices(browser, "ab-attribute-choices")
    wait_idle(browser)
    type_into(browser, "ab-attribute", PROMPT_VERSION + "\n")
    WebDriverWait(browser, 20).until(lambda d: params(d).get("attribute") == PROMPT_VERSION)
    WebDriverWait(browser, 20).until(lambda d: sorted(choices(d, "ab-a-choices")) == ["v1", "v2"])
    for side, value in (("a", "v1"), ("b", "v1")):
        wait_idle(browser)  # the page re-renders from each change of the URL
        type_into(browser, f"ab-{side}", value + "\n")
        WebDriverWait(browser, 20).until(lambda d, s=side, v=value: params(d).get(s) == v)
    wait_for(browser, "#ab-refusal")
    assert "two different values" in browser.find_element(By.ID, "ab-refusal").text
    assert params(browser)["range"] == "24h"  # the page's range stays
    assert console_errors(browser) == []


def test_the_hint_links_an_example_comparison(demo, browser) -> None:  # noqa: F811
    running, _ = demo
    browser.get(running.ui_url + "/evaluations/ab")
    wait_for(browser, "#ab-hint a").click()
    WebDriverWait(browser, 20).until(lambda d: params(d) == {"attribute": PROMPT_VERSION, "a": "v1", "b": "v2"})
    WebDriverWait(browser, 20).until(lambda d: d.find_element(By.ID, "ab-attribute").get_attribute("value")
                                     == PROMPT_VERSION)


def test_hostile_values_in_the_url_are_text(demo, browser) -> None:  # noqa: F811
    running, _ = demo
    browser.get(running.ui_url + "/evaluations/ab?" + urlencode({"attribute": "tag", "a": XSS, "b": "x"}))
    wait_for(browser, "#ab-body")
    wait_idle(browser)
    assert browser.find_element(By.ID, "ab-a").get_attribute("value") == XSS
    assert not browser.find_elements(By.CSS_SELECTOR, "#page img, #page script")
    assert browser.execute_script("return window.__xss") is None
    assert console_errors(browser) == []


def test_ab_shows_each_metric_with_its_test_and_v2_slower(demo, browser) -> None:  # noqa: F811
    running, sent = demo
    browser.get(running.ui_url + AB)
    wait_for(browser, "#ab-metrics #ab-latency_ms")
    counts = dict(sent.prompt_versions)
    assert browser.find_element(By.CSS_SELECTOR, "#ab-cohort-a .value").text == f"{counts['v1']} calls"
    assert browser.find_element(By.CSS_SELECTOR, "#ab-cohort-b .value").text == f"{counts['v2']} calls"
    latency = [cell.text for cell in browser.find_elements(By.CSS_SELECTOR, "#ab-latency_ms td")]
    assert latency[0] == "Latency p50" and latency[3].startswith("+") and latency[-1] == "significant"
    output = browser.find_element(By.ID, "ab-output_tokens")
    assert "significant" in output.get_attribute("class")
    assert browser.find_elements(By.CSS_SELECTOR, "#ab-figures tr")
    assert console_errors(browser) == []
    screenshot(browser, "evals-ab-rollup")
    answer = api(running, "GET", "/compare", attribute=PROMPT_VERSION, a="v1", b="v2").json()
    assert answer["read"] == "rollup"  # the page read the same: the calls above are the rollup's and the raw hours'


def test_an_empty_cohort_says_so(demo, browser) -> None:  # noqa: F811
    running, _ = demo
    browser.get(running.ui_url + f"/evaluations/ab?attribute={PROMPT_VERSION}&a=v1&b=v9")
    wait_for(browser, "#ab-note")
    assert "has no calls in the window" in browser.find_element(By.ID, "ab-note").text
    assert browser.find_element(By.CSS_SELECTOR, "#ab-cohort-b .value").text == "0 calls"
    assert console_errors(browser) == []


def test_shadow_pairs_link_both_calls_and_list_the_unpaired(demo, browser) -> None:  # noqa: F811
    running, sent = demo
    browser.get(running.ui_url + "/evaluations/shadow")
    wait_for(browser, "#shadow-unpaired")
    titles = [h.text for h in browser.find_elements(By.CSS_SELECTOR, ".shadow-pair h2")]
    assert titles and all(f"→ {CANDIDATE_MODEL}" in t or "→ o4-mini" in t for t in titles)
    pairs = sum(int(t.text) for t in browser.find_elements(By.CSS_SELECTOR, "[id^=shadow-pairs-] .value"))
    assert pairs == sent.shadow_calls - sent.unpaired_shadows + 1  # + the hostile pair
    assert len(browser.find_elements(By.CSS_SELECTOR, "#shadow-unpaired tbody tr")) == sent.unpaired_shadows
    candidate = browser.find_element(By.LINK_TEXT, "candidate call")
    candidate.click()
    WebDriverWait(browser, 20).until(lambda d: "/traces/" in d.current_url and "span=" in d.current_url)
    picked = wait_for(browser, ".span-panel.picked")
    assert picked.get_attribute("open") is not None and params(browser)["span"] in picked.get_attribute("id")
    assert "· shadow of " in picked.find_element(By.TAG_NAME, "summary").text  # a candidate's span says so
    assert console_errors(browser) == []


def test_hostile_answers_are_text(demo, browser) -> None:  # noqa: F811
    running, _ = demo
    browser.get(running.ui_url + "/evaluations/shadow")
    wait_for(browser, "#shadow-unpaired")
    wait_idle(browser)
    assert XSS in browser.find_element(By.ID, "shadow-body").text
    assert not browser.find_elements(By.CSS_SELECTOR, "#page img, #page script")
    assert browser.execute_script("return window.__xss") is None
