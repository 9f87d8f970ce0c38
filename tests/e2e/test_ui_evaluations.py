"""The Evaluations pages in real headless Chromium: datasets, experiments and the comparison, against
datasets and experiments written through the stores (tests/e2e/eval_data.py) and a real recorded
call behind one result, as a user would have them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from evals.summary import summarize
from schemas.metadata.datasets import DatasetStore
from schemas.metadata.experiments import ExperimentStore, NewExperiment
from tests.conftest import Running, make_settings, start_service
from tests.e2e import eval_data
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
from tests.e2e.eval_data import BASELINE, CANDIDATE, DATASET, HOSTILE, OLD, RUNNING
from tests.spans import Call

pytestmark = pytest.mark.slow
PAGES = {"evals-datasets": "/evaluations/datasets", "evals-dataset": f"/evaluations/datasets/{DATASET}",
         "evals-experiments": "/evaluations/experiments", "evals-experiment": f"/evaluations/experiments/{CANDIDATE}",
         "evals-compare": f"/evaluations/compare?baseline={BASELINE}&candidate={CANDIDATE}"}


@pytest.fixture(scope="module")
def evals(tmp_path_factory: pytest.TempPathFactory, chdb_dsn: str) -> Iterator[tuple[Running, eval_data.EvalData]]:
    running = start_service(make_settings(tmp_path_factory.mktemp("ui-evals"), chdb_dsn))
    data = eval_data.fill(running.service.metadata)
    DatasetStore(running.service.metadata).create("default", "empty-set", "no experiments yet")
    running.service.metadata.ensure_project("fresh")
    answer = json.dumps([{"role": "assistant", "content": "Lyon"}])
    running.send_calls(Call(int(data.trace_id, 16), 1, extra={"gen_ai.output.messages": answer}))
    running.flush()
    yield running, data
    running.service.stop()


def rows(driver, table_id: str) -> list[list[str]]:
    try:
        return [[cell.text for cell in row.find_elements(By.CSS_SELECTOR, "td")]
                for row in driver.find_elements(By.CSS_SELECTOR, f"#{table_id} tbody tr")]
    except StaleElementReferenceException:
        return []


@pytest.mark.parametrize("name", PAGES)
def test_each_page_shows_its_data_without_console_errors(evals, browser, name: str) -> None:  # noqa: F811
    running, _ = evals
    browser.get(running.ui_url + PAGES[name])
    wait_for(browser, "#page h1")
    wait_for(browser, "#evals-tabs a.active")
    wait_idle(browser)
    assert browser.find_element(By.CSS_SELECTOR, ".nav a.active").text == "Evaluations"
    assert not browser.find_elements(By.ID, "evals-not-found")
    screenshot(browser, name)
    assert console_errors(browser) == []


def test_the_dataset_list_and_a_dataset_with_its_versions(evals, browser) -> None:  # noqa: F811
    running, data = evals
    browser.get(running.ui_url + "/evaluations")
    wait_for(browser, "#datasets .dataset-row")
    assert [r[:4] for r in rows(browser, "datasets")] == [
        [DATASET, "Capitals of the world, one word each", "5", "v2"], ["empty-set", "no experiments yet", "0", "v0"]]
    browser.find_element(By.LINK_TEXT, DATASET).click()
    wait_for(browser, "#dataset-items .item-row")
    assert [int(r[0]) for r in rows(browser, "dataset-items")] == data.item_ids
    span_link = browser.find_element(By.CSS_SELECTOR, "#dataset-items a[href*='/traces/']")
    assert data.trace_id in span_link.get_attribute("href")
    shown = {r[0] for r in rows(browser, "dataset-experiments")}
    assert shown == {BASELINE, CANDIDATE, OLD, RUNNING}
    choose(browser, "dataset-version", "v1")
    WebDriverWait(browser, 20).until(lambda d: "version=1" in d.current_url)
    WebDriverWait(browser, 20).until(lambda d: len(rows(d, "dataset-items")) == 3)  # v1 as it was
    browser.refresh()  # the version is in the URL
    WebDriverWait(browser, 20).until(lambda d: len(rows(d, "dataset-items")) == 3)
    assert console_errors(browser) == []


def test_a_hostile_item_shows_as_text(evals, browser) -> None:  # noqa: F811
    running, _ = evals
    for path, table in ((f"/evaluations/datasets/{DATASET}", "dataset-items"),
                        (f"/evaluations/experiments/{CANDIDATE}", "experiment-results"),
                        (PAGES["evals-compare"], "compare-items")):
        browser.get(running.ui_url + path)
        wait_for(browser, f"#{table} tbody tr")
        cells = [cell for row in rows(browser, table) for cell in row]
        assert HOSTILE in cells, path  # the input, verbatim, as text
        assert not browser.find_elements(By.CSS_SELECTOR, f"#{table} img"), path
        assert console_errors(browser) == []  # a broken image (src=x) would have logged an error


def test_the_experiment_list_filters_by_dataset_in_the_url(evals, browser) -> None:  # noqa: F811
    running, _ = evals
    browser.get(running.ui_url + "/evaluations/experiments")
    wait_for(browser, "#experiments .experiment-row")
    listed = {r[0]: r for r in rows(browser, "experiments")}
    assert listed[RUNNING][2].startswith("running") and "1 / 5" in listed[RUNNING][2]
    summary = summarize(ExperimentStore(running.service.metadata).results("default", CANDIDATE))
    assert listed[CANDIDATE][3] == (f"{summary['pass_rate'] * 100:.1f}% (95%: {summary['ci_low'] * 100:.1f}% to "
                                    f"{summary['ci_high'] * 100:.1f}%)")
    assert listed[CANDIDATE][1] == f"{DATASET}@v2" and listed[OLD][1] == f"{DATASET}@v1"
    choose(browser, "experiments-dataset", "empty-set")
    WebDriverWait(browser, 20).until(lambda d: "dataset=empty-set" in d.current_url)
    wait_text(browser, "#experiments", "No experiments on dataset empty-set yet")
    assert console_errors(browser) == []


def test_an_experiment_shows_its_summary_and_failures_first(evals, browser) -> None:  # noqa: F811
    running, data = evals
    browser.get(running.ui_url + f"/evaluations/experiments/{CANDIDATE}")
    wait_for(browser, "#experiment-summary")
    summary = summarize(ExperimentStore(running.service.metadata).results("default", CANDIDATE))
    assert browser.find_element(By.CSS_SELECTOR, "#tile-pass-rate .value").text == "60.0%"
    assert f"{summary['ci_low'] * 100:.1f}% to" in browser.find_element(By.ID, "tile-pass-rate").text
    assert browser.find_element(By.CSS_SELECTOR, "#tile-errors .value").text == "1"
    assert browser.find_element(By.CSS_SELECTOR, "#tile-p95 .value").text == f"{summary['latency_p95_ms']:,.0f} ms"
    ids = data.item_ids
    shown = rows(browser, "experiment-results")
    assert [int(r[0]) for r in shown] == [ids[3], ids[0], ids[1], ids[2], ids[4]]  # error, failed, then passed
    assert [r[4] for r in shown] == ["error", "failed", "passed", "passed", "passed"]
    assert "the expected answer is not in the answer" in shown[1][5]  # the failing score's reason
    chip = browser.find_element(By.CSS_SELECTOR, "#experiment-results .evals-chip.bad")
    assert chip.get_attribute("title") == "the expected answer is not in the answer"  # also on hover
    browser.find_elements(By.CSS_SELECTOR, "#experiment-results tbody tr")[1].find_element(By.LINK_TEXT,
                                                                                          "trace").click()
    wait_for(browser, "#waterfall .main-svg")  # the span the answer came from
    assert data.trace_id in browser.current_url
    assert console_errors(browser) == []


def test_a_running_experiment_refreshes_until_done(evals, browser) -> None:  # noqa: F811
    running, data = evals
    experiments, name, ids = ExperimentStore(running.service.metadata), "capitals-refresh", data.item_ids
    experiments.create(NewExperiment("default", name, DATASET, 2, "app", len(ids)))
    experiments.add_results("default", name, [result(ids[0], True)])
    browser.get(running.ui_url + f"/evaluations/experiments/{name}")
    wait_text(browser, "#experiment-status", "1 / 5")
    assert not browser.find_elements(By.ID, "experiment-summary")  # no summary of a half-run experiment
    experiments.add_results("default", name, [result(i, False) for i in ids[1:3]])
    wait_text(browser, "#experiment-status", "3 / 5")  # without a reload
    experiments.add_results("default", name, [result(i, True) for i in ids[3:]])
    experiments.finish("default", name, "done")
    wait_for(browser, "#experiment-summary")
    assert browser.find_element(By.CSS_SELECTOR, "#tile-pass-rate .value").text == "60.0%"
    assert console_errors(browser) == []


def result(item_id: int, passed: bool) -> dict:
    return {"item_id": item_id, "output": "x", "passed": passed, "cost": 0.001, "latency_ms": 100.0}


def test_the_comparison_shows_the_verdict_and_regressions_first(evals, browser) -> None:  # noqa: F811
    running, _ = evals
    browser.get(running.ui_url + PAGES["evals-compare"])
    wait_for(browser, "#compare-verdict")
    assert "passes the gate" in browser.find_element(By.ID, "compare-verdict").text
    assert "McNemar p = 1" in browser.find_element(By.ID, "compare-pass-rate").text
    verdicts = [r[1] for r in rows(browser, "compare-items")]
    assert verdicts == ["regressed", "regressed", "improved", "improved", "unchanged"]
    first = rows(browser, "compare-items")[0]
    assert first[2] == "What is the capital of France?" and "Paris" in first[4] and "Lyon" in first[5]
    browser.get(running.ui_url + PAGES["evals-compare"] + "&max_regressions=1")
    wait_text(browser, "#compare-verdict", "fails the gate")
    assert "2 regression(s), above the maximum 1" in browser.find_element(By.ID, "compare-verdict").text
    assert console_errors(browser) == []


def test_the_comparison_refuses_different_versions_and_pickers_write_the_url(evals, browser) -> None:  # noqa: F811
    running, _ = evals
    browser.get(running.ui_url + f"/evaluations/compare?baseline={OLD}&candidate={CANDIDATE}")
    wait_text(browser, "#compare-refusal", "version 1")
    assert "same items" in browser.find_element(By.ID, "compare-refusal").text
    choose(browser, "compare-baseline", f"{BASELINE} ({DATASET}@v2, done)")
    WebDriverWait(browser, 20).until(lambda d: f"baseline={BASELINE}" in d.current_url)
    wait_for(browser, "#compare-verdict")
    assert console_errors(browser) == []


def test_importing_a_file_creates_a_dataset_version(evals, browser, tmp_path: Path) -> None:  # noqa: F811
    running, _ = evals
    bad, good = tmp_path / "bad.jsonl", tmp_path / "more.csv"
    bad.write_text('{"input": "ok"}\n{"expected": "no input"}\n')
    good.write_text("input,expected,metadata.topic\nCapital of Peru?,Lima,americas\nCapital of Chile?,Santiago,\n")
    browser.get(running.ui_url + "/evaluations")
    wait_for(browser, "#import-upload")
    type_into(browser, "import-name", "imported-set")
    upload = browser.find_element(By.CSS_SELECTOR, "#import-upload input[type=file]")
    upload.send_keys(str(bad))
    wait_text(browser, "#import-checked", "line 2")  # named before anything is stored
    assert "input is required" in browser.find_element(By.ID, "import-checked").text
    upload.send_keys(str(good))
    wait_for(browser, "#import-ready")
    assert "2 items" in browser.find_element(By.ID, "import-ready").text
    assert "imported-set" not in {d["name"] for d in DatasetStore(running.service.metadata).list_datasets("default")}
    browser.find_element(By.ID, "import-run").click()
    wait_for(browser, "#import-done")
    stored = DatasetStore(running.service.metadata).read("default", "imported-set")
    assert stored["version"] == 1 and [i["expected"] for i in stored["items"]] == ["Lima", "Santiago"]
    assert stored["items"][0]["metadata"] == {"topic": "americas"}
    browser.find_element(By.ID, "import-open").click()
    WebDriverWait(browser, 20).until(lambda d: len(rows(d, "dataset-items")) == 2)
    assert "version=1" in browser.current_url
    assert console_errors(browser) == []


def test_an_empty_project_says_how_to_start(evals, browser) -> None:  # noqa: F811
    running, _ = evals
    browser.get(running.ui_url + "/evaluations?project=fresh")
    wait_text(browser, "#datasets", "No datasets yet")
    assert "llmpulse datasets import NAME items.jsonl --project fresh" in browser.find_element(By.ID, "datasets").text
    browser.get(running.ui_url + "/evaluations/experiments?project=fresh")
    wait_text(browser, "#experiments", "llmpulse eval run")
    browser.get(running.ui_url + "/evaluations/experiments/no-such-run")
    wait_text(browser, "#evals-not-found", "not found")
    assert console_errors(browser) == []
