"""The "Run experiment" form in real headless Chromium, end to end: a bad field answered with the
API's 400 message, then a run against a local fake OpenAI-compatible endpoint that the page
follows to its summary; from a dataset's page with the server's default endpoint and a key in a
server environment variable. The admin-only gate is in tests/integration/test_role_rights.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from schemas.dataset_items import parse_items
from schemas.metadata.datasets import DatasetStore
from tests.conftest import Running, make_settings, start_service
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
from tests.fake_openai import FakeOpenAI

pytestmark = pytest.mark.slow
DATASET = "capitals"
ITEMS = [{"input": "Capital of France?", "expected": "Paris"}, {"input": "Capital of Peru?", "expected": "Lima"}]
PASTED = "sk-pasted-never-shown"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, chdb_dsn: str) -> Iterator[tuple[Running, FakeOpenAI]]:
    with FakeOpenAI() as fake:
        fake.answer("Capital of France?", "Paris")
        fake.answer("Capital of Peru?", "Quito")
        settings = make_settings(tmp_path_factory.mktemp("ui-run"), chdb_dsn, experiment_endpoint=fake.url)
        running = start_service(settings)
        datasets = DatasetStore(running.service.metadata)
        datasets.create("default", DATASET)
        datasets.add_items("default", DATASET, parse_items(ITEMS))
        yield running, fake
        running.service.stop()


def follow_to_summary(driver, name: str) -> None:
    """The form opened the experiment's page; it refreshes itself until the summary is there."""
    WebDriverWait(driver, 20).until(lambda d: d.current_url.split("?")[0].endswith(f"/evaluations/experiments/{name}"))
    wait_text(driver, "#page h1", f"Experiment {name}")
    wait_for(driver, "#experiment-summary", timeout=60)
    wait_text(driver, "#tile-items", "1 of 2 passed")


def test_the_form_refuses_bad_input_then_runs_and_opens_the_experiment(served, browser) -> None:  # noqa: F811
    running, fake = served
    browser.get(running.ui_url + "/evaluations/experiments")
    wait_for(browser, "#run-start")
    wait_idle(browser)
    assert browser.find_element(By.ID, "run-endpoint").get_attribute("value") == fake.url  # the server's default
    type_into(browser, "run-name", "from-the-form")
    choose(browser, "run-dataset", DATASET)
    type_into(browser, "run-model", "gpt-4o-mini")
    type_into(browser, "run-temperature", "5")
    type_into(browser, "run-key", PASTED)
    browser.find_element(By.ID, "run-start").click()
    wait_text(browser, "#run-error", "temperature must be a number from 0 to 2, got 5")
    assert browser.current_url.split("?")[0].endswith("/evaluations/experiments")  # nothing started
    assert fake.received() == []

    type_into(browser, "run-temperature", "0.2")
    type_into(browser, "run-system", "Answer in one word.")
    screenshot(browser, "evals-run-form")
    browser.find_element(By.ID, "run-start").click()
    follow_to_summary(browser, "from-the-form")
    sent = fake.received()
    assert {r.question for r in sent} == {"Capital of France?", "Capital of Peru?"}
    assert {(r.model, r.temperature, r.authorization) for r in sent} == {("gpt-4o-mini", 0.2, f"Bearer {PASTED}")}
    assert sent[0].messages[0] == {"role": "system", "content": "Answer in one word."}
    screenshot(browser, "evals-run-done")
    browser.get(running.ui_url + "/evaluations/experiments/from-the-form")
    wait_for(browser, "#experiment-summary")
    assert PASTED not in browser.page_source
    assert console_errors(browser) == []


def test_a_dataset_page_runs_its_version_with_a_key_from_the_server_environment(
        served, browser, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    running, fake = served
    monkeypatch.setenv("LLMPULSE_TARGET_FAKE", "sk-from-the-server")
    before = len(fake.received())
    browser.get(running.ui_url + f"/evaluations/datasets/{DATASET}")
    wait_for(browser, "#run-start")
    wait_idle(browser)
    type_into(browser, "run-name", "from-the-dataset")
    type_into(browser, "run-model", "gpt-4o")
    type_into(browser, "run-template", "Q: {{input}}")
    type_into(browser, "run-key-env", "DATABASE_PASSWORD")
    browser.find_element(By.ID, "run-start").click()
    wait_text(browser, "#run-error", "api_key_env 'DATABASE_PASSWORD' is not allowed")

    type_into(browser, "run-key-env", "LLMPULSE_TARGET_FAKE")
    browser.find_element(By.ID, "run-start").click()
    WebDriverWait(browser, 20).until(lambda d: "/evaluations/experiments/from-the-dataset" in d.current_url)
    wait_for(browser, "#experiment-summary", timeout=60)
    wait_text(browser, "#tile-items", "0 of 2 passed")  # "Q: …" is no question the fake knows
    sent = fake.received()[before:]
    assert {r.question for r in sent} == {"Q: Capital of France?", "Q: Capital of Peru?"}
    assert {(r.model, r.authorization) for r in sent} == {("gpt-4o", "Bearer sk-from-the-server")}
    assert console_errors(browser) == []
