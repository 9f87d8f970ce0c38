"""The Annotate page and "add to dataset" in real headless Chromium: labelling with the keys moves
to the next span and counts in the hallucination rate as the API says, a right answer goes to a
dataset as the expected output, a dataset item gets its expected answer, and a span of the trace
view joins a dataset with its answer edited. Hostile texts stay text."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from schemas.clickhouse.evaluations import insert_evaluations
from tests.conftest import Running, api, make_settings, start_service
from tests.e2e.browser import (  # noqa: F401 (the fixture)
    browser,
    choose,
    console_errors,
    screenshot,
    type_into,
    wait_for,
    wait_idle,
    wait_text,
)
from tests.e2e.test_ui import XSS
from tests.spans import Call

pytestmark = pytest.mark.slow
T = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
WINDOW = {"from": (T - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
          "to": (T + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")}
QUESTIONS = {1: "When do refunds arrive?", 2: XSS, 3: "Can I change my address?"}


def call(n: int) -> Call:
    return Call(n, start_ns=int((T + timedelta(seconds=n)).timestamp() * 10**9), extra={
        "gen_ai.input.messages": json.dumps([{"role": "user", "content": QUESTIONS[n]}]),
        "gen_ai.output.messages": json.dumps([{"role": "assistant", "content": f"answer {n} {XSS}"}])})


def judged(n: int) -> dict:
    return {"project_id": "default", "trace_id": f"{n:032x}", "span_id": f"{1:016x}", "evaluation_id": "j",
            "scorer": "judge", "name": "hallucination", "score": 0.1, "label": "hallucinated", "reason": XSS,
            "hallucinated": True, "request_model": "gpt-4o-mini", "span_time": T + timedelta(seconds=n),
            "source": "judge", "cost": None, "input_tokens": 0, "output_tokens": 0, "error": ""}


@pytest.fixture
def labelled(tmp_path_factory: pytest.TempPathFactory, chdb_dsn: str) -> Iterator[Running]:
    """Three calls the judge flagged (one asking a hostile question), and a dataset, golden."""
    running = start_service(make_settings(tmp_path_factory.mktemp("ui-annotate"), chdb_dsn))
    running.send_calls(*(call(n) for n in QUESTIONS))
    insert_evaluations(running.service.store, [judged(n) for n in QUESTIONS])
    assert api(running, "POST", "/datasets", {"name": "golden"}).status_code == 201
    yield running
    running.service.stop()


def page(running: Running, **params: str) -> str:
    return running.ui_url + "/annotate?" + urlencode({**WINDOW, **params})


def press(browser, key: str) -> None:  # noqa: F811
    browser.find_element(By.TAG_NAME, "body").send_keys(key)


def flagged(running: Running) -> int:
    window = {"from": (T - timedelta(hours=1)).isoformat(), "to": (T + timedelta(hours=1)).isoformat()}
    return api(running, "GET", "/quality/hallucination", **window).json()["total"]["flagged"]


def test_keys_label_one_span_after_another_and_a_right_answer_goes_to_the_dataset(labelled: Running,
                                                                                   browser) -> None:  # noqa: F811
    browser.get(page(labelled, kind="flagged"))
    wait_text(browser, "#annotate-question", QUESTIONS[1])
    wait_idle(browser)
    assert QUESTIONS[1] in browser.find_element(By.ID, "annotate-question").text
    assert "judge: hallucinated" in browser.find_element(By.ID, "annotate-verdicts").text
    screenshot(browser, "annotate")
    press(browser, "c")
    wait_text(browser, "#annotate-message", "Labelled correct")
    wait_text(browser, "#annotate-question", XSS)  # the next span; its hostile question is text
    assert flagged(labelled) == 2  # the person's "correct" outranks the judge
    assert browser.execute_script("return window.__xss") is None
    assert not browser.find_elements(By.CSS_SELECTOR, "#annotate-card img, #annotate-card script")

    press(browser, "s")  # skip the hostile one
    wait_text(browser, "#annotate-question", QUESTIONS[3])
    choose(browser, "annotate-dataset", "golden")
    type_into(browser, "annotate-answer", "Yes, until it ships.")
    browser.find_element(By.ID, "annotate-answer").send_keys(Keys.ESCAPE)
    browser.find_element(By.TAG_NAME, "h1").click()  # leave the text box: keys are for the page again
    press(browser, "d")
    wait_text(browser, "#annotate-message", "Labelled incorrect, added to golden")
    (item,) = api(labelled, "GET", "/datasets/golden").json()["items"]
    assert item["input"] == [{"role": "user", "content": QUESTIONS[3]}] and item["expected"] == "Yes, until it ships."
    wait_text(browser, "#annotate-empty", "Nothing left but the 1 you skipped")
    browser.refresh()  # skipped for this visit only
    wait_text(browser, "#annotate-question", XSS)
    assert console_errors(browser) == []


def test_a_dataset_item_without_expected_gets_its_answer(labelled: Running, browser) -> None:  # noqa: F811
    api(labelled, "POST", "/datasets/golden/items", [{"input": "How long is the warranty?"}, {"input": "x",
                                                                                             "expected": "y"}])
    browser.get(page(labelled, kind="dataset", dataset="golden"))
    wait_text(browser, "#annotate-question", "How long is the warranty?")
    type_into(browser, "annotate-answer", "Two years.")
    browser.find_element(By.ID, "annotate-send").click()
    wait_text(browser, "#annotate-message", "Expected answer saved (version 2)")
    wait_text(browser, "#annotate-empty", "Nothing left to label")
    items = api(labelled, "GET", "/datasets/golden").json()["items"]
    assert [i["expected"] for i in items] == ["Two years.", "y"]


def test_a_trace_views_llm_span_goes_to_a_dataset_with_its_answer_edited(labelled: Running,
                                                                         browser) -> None:  # noqa: F811
    browser.get(labelled.ui_url + f"/traces/{1:032x}")
    wait_for(browser, ".add-to-dataset summary").click()
    box = wait_for(browser, "textarea.add-expected")
    assert box.get_attribute("value") == f"answer 1 {XSS}"  # prefilled with the span's answer, as text
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.BACKSPACE, "Within 14 days.")
    browser.find_element(By.CSS_SELECTOR, ".add-to-dataset-form button.button").click()
    wait_text(browser, "#span-add-message", "added to golden")
    screenshot(browser, "trace-add-to-dataset")
    (item,) = api(labelled, "GET", "/datasets/golden").json()["items"]
    assert item["expected"] == "Within 14 days." and item["source"]["trace_id"] == f"{1:032x}"
    assert browser.execute_script("return window.__xss") is None
    assert console_errors(browser) == []


def test_a_flagged_span_names_who_labelled_it_and_goes_to_a_dataset(labelled: Running, browser) -> None:  # noqa: F811
    body = {"trace_id": f"{3:032x}", "span_id": f"{1:016x}", "label": "incorrect", "comment": "wrong address rule"}
    assert api(labelled, "POST", "/annotations", body).status_code == 201
    browser.get(labelled.ui_url + "/quality?" + urlencode(WINDOW))
    rows = wait_for(browser, "#quality-flagged .flagged-row") and \
        browser.find_elements(By.CSS_SELECTOR, "#quality-flagged .flagged-row")
    newest = rows[0]
    assert "human (local)" in newest.text and "wrong address rule" in newest.text
    newest.find_element(By.CSS_SELECTOR, ".add-to-dataset summary").click()
    newest.find_element(By.CSS_SELECTOR, ".add-to-dataset-form button.button").click()
    wait_text(browser, "#span-add-message", "added to golden")
    (item,) = api(labelled, "GET", "/datasets/golden").json()["items"]
    assert item["source"]["trace_id"] == f"{3:032x}" and item["expected"] == f"answer 3 {XSS}"
    assert browser.execute_script("return window.__xss") is None
    assert console_errors(browser) == []
