"""Experiments over real HTTP: the in-service runner against a local fake OpenAI-compatible endpoint,
its calls ingested through llmpulse's own OTLP port, read back, scored and summarized; bad input,
faults of the endpoint, progress, and a restart in the middle of a run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from evals.service import STOPPED
from schemas.metadata.experiments import ExperimentStore, NewExperiment
from tests.conftest import Running, api, make_settings, start_service, wait_for
from tests.fake_openai import FakeOpenAI, answer, failing, invalid_json, not_json, slow

ITEMS = [
    {"input": "Capital of France?", "expected": "Paris", "assertions": {"must_contain": ["Paris"]}},
    {"input": "Capital of Peru?", "expected": "Lima"},
    {"input": "Give the answer as JSON", "assertions": {"valid_json": True}},
    {"input": "How long do refunds take?", "expected": "14 days",
     "metadata": {"context": "Refunds are paid back within 14 days of the return."}},
]


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as handle:
        yield handle


def golden(running: Running, items: list[dict[str, Any]] = ITEMS, name: str = "golden") -> list[int]:
    assert api(running, "POST", "/datasets", {"name": name}).status_code == 201
    assert api(running, "POST", f"/datasets/{name}/items", items).status_code == 201
    return [item["id"] for item in api(running, "GET", f"/datasets/{name}").json()["items"]]


def start(running: Running, body: dict[str, Any]) -> requests.Response:
    return api(running, "POST", "/experiments", body)


def finished(running: Running, name: str, timeout: float = 60) -> dict[str, Any]:
    found: dict[str, Any] = {}

    def done() -> bool:
        found.update(api(running, "GET", f"/experiments/{name}").json())
        return found["status"] != "running"

    wait_for(done, timeout, f"experiment {name} did not finish", poll=0.05)
    return found


def evaluations(running: Running, trace_id: str, span_id: str) -> dict[str, dict[str, Any]]:
    store = running.service.store
    rows = store.query_dicts("SELECT scorer, name, score, label, hallucinated, source, reason FROM {db}.evaluations "
                             "FINAL WHERE trace_id = {t:String} AND span_id = {s:String}",
                             {"t": trace_id, "s": span_id}, "test")
    return {row["scorer"]: row for row in rows}


def test_a_service_run_answers_scores_prices_and_files_its_scores_on_the_spans(running: Running,
                                                                                fake: FakeOpenAI) -> None:
    fake.set("Capital of France?", answer("The capital is Paris."))
    fake.set("Capital of Peru?", answer("Quito"))
    fake.set("Give the answer as JSON", invalid_json())
    fake.set("How long do refunds take?", answer("Refunds are paid back within 14 days."))
    ids = golden(running)
    body = {"name": "baseline", "dataset": "golden", "model": "gpt-4o-mini", "endpoint": fake.url,
            "system_prompt": "Be brief.", "temperature": 0, "max_tokens": 64, "max_concurrency": 2,
            "api_key": "sk-sealed-secret"}
    answer_ = start(running, body)
    assert answer_.status_code == 202 and answer_.json() == {"name": "baseline", "status": "running"}

    found = finished(running, "baseline")
    assert found["status"] == "done" and found["reason"] == "", found
    assert (found["items"], found["passed"], found["pass_rate"], found["errors"]) == (4, 2, 0.5, 0)
    assert 0.0 < found["ci_low"] < 0.5 < found["ci_high"] < 1.0
    assert found["progress"] == {"items_done": 4, "items_total": 4} and found["dataset_version"] == 1
    results = {r["item_id"]: r for r in found["results"]}
    assert [results[i]["passed"] for i in ids] == [True, False, False, True]
    assert results[ids[1]]["scores"]["expected_match"]["reason"] == "the expected answer 'Lima' is not in the answer"
    assert results[ids[2]]["scores"]["valid_json"]["passed"] is False
    assert results[ids[3]]["scores"]["groundedness"]["label"] == "grounded"
    assert (results[ids[0]]["input"], results[ids[0]]["expected"]) == ("Capital of France?", "Paris")

    # Cost and latency are those of the ingested span, priced as production is (gpt-4o-mini list price).
    first = results[ids[0]]
    (span,) = api(running, "GET", f"/traces/{first['trace_id']}").json()["spans"]
    assert span["span_id"] == first["span_id"] and span["request_model"] == "gpt-4o-mini"
    assert first["cost"] == pytest.approx(span["cost_total"]) and first["cost"] > 0
    assert first["latency_ms"] == pytest.approx(span["duration_ms"])
    assert span["attributes"]["llmpulse.experiment.name"] == "baseline"
    assert found["cost_total"] == pytest.approx(sum(r["cost"] for r in found["results"]))

    # Every score is an evaluation row of the span; only groundedness carries a hallucination verdict.
    rows = evaluations(running, first["trace_id"], first["span_id"])
    assert {"experiment:must_contain", "experiment:expected_match", "experiment:exact_match"} <= set(rows)
    assert all(r["source"] == "experiment" and r["hallucinated"] is None for r in rows.values())
    assert rows["experiment:expected_match"]["label"] == "pass"
    grounded = evaluations(running, results[ids[3]]["trace_id"], results[ids[3]]["span_id"])
    assert grounded["experiment:groundedness"]["hallucinated"] is False
    # The project's hallucination rate measures production: an experiment's verdicts stay out of it.
    rate = api(running, "GET", "/quality/hallucination").json()["total"]
    assert (rate["sampled"], rate["flagged"]) == (0, 0)

    # The key went to the target, sealed at rest, and never comes back from the API.
    assert {r.authorization for r in fake.received()} == {"Bearer sk-sealed-secret"}
    assert "sk-sealed-secret" not in api(running, "GET", "/experiments/baseline").text
    assert found["target"]["api_key_sealed"] is True and found["target"]["model"] == "gpt-4o-mini"
    listed = api(running, "GET", "/experiments", dataset="golden").json()["experiments"]
    assert [(e["name"], e["status"]) for e in listed] == [("baseline", "done")]
    assert api(running, "GET", "/experiments", dataset="other").json()["experiments"] == []


def test_an_endpoint_that_is_down_fails_the_experiment_with_the_reason(running: Running) -> None:
    golden(running, [{"input": "q1"}, {"input": "q2"}])
    assert start(running, {"name": "down", "dataset": "golden", "model": "m",
                           "endpoint": "http://127.0.0.1:9/v1"}).status_code == 202
    found = finished(running, "down")
    assert found["status"] == "failed" and found["reason"].startswith("every item failed (2); the first: could not "
                                                                      "connect to the endpoint"), found
    assert found["pass_rate"] is None and all(r["error"] for r in found["results"])


def test_garbage_and_server_errors_are_per_item_errors_with_their_reasons(running: Running, fake: FakeOpenAI) -> None:
    fake.set("fine", answer("ok"))
    fake.set("garbage", not_json())
    fake.set("broken", failing(400))
    ids = golden(running, [{"input": "fine"}, {"input": "garbage"}, {"input": "broken"}])
    start(running, {"name": "mixed", "dataset": "golden", "model": "m", "endpoint": fake.url})
    found = finished(running, "mixed")
    results = {r["item_id"]: r for r in found["results"]}
    assert found["status"] == "done" and (found["items"], found["passed"], found["errors"]) == (3, 1, 2)
    assert results[ids[1]]["error"].startswith("the endpoint answered 200 with a body that is not JSON")
    assert results[ids[2]]["error"].startswith("the endpoint answered HTTP 400")
    assert results[ids[2]]["passed"] is False and results[ids[2]]["trace_id"]  # the failed call is a span too


def test_a_slow_endpoint_times_out_per_item_in_bounded_time(tmp_path: Path, chdb_dsn: str, fake: FakeOpenAI) -> None:
    running = start_service(make_settings(tmp_path, chdb_dsn, experiment_timeout_seconds=0.3))
    try:
        fake.set("slow", slow(30))
        fake.set("fast", answer("ok"))
        golden(running, [{"input": "slow"}, {"input": "fast"}])
        start(running, {"name": "timeouts", "dataset": "golden", "model": "m", "endpoint": fake.url})
        found = finished(running, "timeouts", timeout=60)
        errors = sorted(r["error"] for r in found["results"] if r["error"])
        assert found["status"] == "done" and found["errors"] == 1
        assert errors[0].startswith("the endpoint did not answer within 0.3 s (4 attempts")
    finally:
        running.service.stop()


def test_progress_is_visible_while_an_experiment_runs(running: Running, fake: FakeOpenAI) -> None:
    fake.set("first", answer("1"))
    fake.set("second", answer("2"))
    fake.set("held", slow(120, "3"))  # answers when the fake closes
    golden(running, [{"input": "first"}, {"input": "second"}, {"input": "held"}])
    start(running, {"name": "slowly", "dataset": "golden", "model": "m", "endpoint": fake.url, "max_concurrency": 3})
    seen: dict[str, Any] = {}

    def two_done() -> bool:
        seen.update(api(running, "GET", "/experiments/slowly").json())
        return seen["progress"]["items_done"] == 2

    wait_for(two_done, 30, "two items did not complete")
    assert seen["status"] == "running" and seen["progress"]["items_total"] == 3
    assert seen["pass_rate"] is None and seen["items"] is None and seen["cost_total"] is None
    assert sorted(r["output"] for r in seen["results"]) == ["1", "2"]
    fake.close()  # releases the held reply
    assert finished(running, "slowly")["status"] == "done"


@pytest.mark.parametrize(("body", "words"), [
    ({"dataset": "golden", "model": "m", "endpoint": "http://x/v1"}, "name "),
    ({"name": "compare", "dataset": "golden", "model": "m", "endpoint": "http://x/v1"}, "name 'compare' is reserved"),
    ({"name": "r", "dataset": "golden", "endpoint": "http://x/v1"}, "model is required"),
    ({"name": "r", "dataset": "golden", "model": "m"}, "endpoint is required"),
    ({"name": "r", "dataset": "golden", "model": "m", "endpoint": "ftp://x"}, "endpoint 'ftp://x' is not an http"),
    ({"name": "r", "dataset": "golden", "model": "m", "endpoint": "http://x/v1", "temperature": 9},
     "temperature must be a number from 0 to 2"),
    ({"name": "r", "dataset": "golden", "model": "m", "endpoint": "http://x/v1", "max_concurrency": 0},
     "max_concurrency must be a whole number from 1 to 32"),
    ({"name": "r", "dataset": "golden", "model": "m", "endpoint": "http://x/v1", "api_key_env": "HOME"},
     "api_key_env 'HOME' is not allowed"),
    ({"name": "r", "dataset": "golden", "model": "m", "endpoint": "http://x/v1",
      "api_key_env": "LLMPULSE_TARGET_UNSET_KEY"}, "api_key_env 'LLMPULSE_TARGET_UNSET_KEY' is not set"),
    ({"name": "r", "dataset": "golden", "model": "m", "endpoint": "http://x/v1", "prompt_template": "static"},
     "prompt_template must use {{input}}"),
    ({"name": "r", "dataset": "golden", "model": "m", "endpoint": "http://x/v1", "dataset_version": 7},
     "dataset 'golden' has versions 0 to 1, not 7"),
    ({"name": "r", "dataset": "golden", "model": "m", "endpoint": "http://x/v1", "modle": "m"},
     "unknown field 'modle'"),
])
def test_bad_input_is_a_400_naming_the_field_and_stores_nothing(running: Running, body: dict, words: str) -> None:
    golden(running, [{"input": "q"}])
    answer_ = start(running, body)
    assert answer_.status_code in (400, 404) and answer_.json()["error"].startswith(words), answer_.text
    assert api(running, "GET", "/experiments").json()["experiments"] == []


def test_duplicates_unknown_names_and_finishing_a_service_run(running: Running, fake: FakeOpenAI) -> None:
    golden(running, [{"input": "q"}])
    body = {"name": "once", "dataset": "golden", "model": "m", "endpoint": fake.url}
    assert start(running, body).status_code == 202
    again = start(running, {**body, "model": "other"})
    assert again.status_code == 409 and "already exists" in again.json()["error"]
    missing = start(running, {**body, "name": "elsewhere", "dataset": "nope"})
    assert missing.status_code == 404 and missing.json()["error"] == "dataset 'nope' not found in project 'default'"
    assert api(running, "GET", "/experiments/nope").status_code == 404
    assert api(running, "POST", "/experiments/nope/finish").status_code == 404
    assert api(running, "POST", "/experiments/once/finish").status_code == 409
    assert finished(running, "once")["status"] == "done"


def test_a_target_key_from_an_allowed_environment_variable(running: Running, fake: FakeOpenAI,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMPULSE_TARGET_FAKE_KEY", "sk-from-env")
    golden(running, [{"input": "q"}])
    start(running, {"name": "env", "dataset": "golden", "model": "m", "endpoint": fake.url,
                    "api_key_env": "LLMPULSE_TARGET_FAKE_KEY"})
    found = finished(running, "env")
    assert found["status"] == "done" and found["target"]["api_key_env"] == "LLMPULSE_TARGET_FAKE_KEY"
    assert [r.authorization for r in fake.received()] == ["Bearer sk-from-env"]


def test_a_restart_fails_the_experiment_a_stopped_process_was_running(running: Running, fake: FakeOpenAI) -> None:
    fake.set("held", slow(120))
    golden(running, [{"input": "held"}])
    start(running, {"name": "interrupted", "dataset": "golden", "model": "m", "endpoint": fake.url})
    fake.wait_for(1)
    settings = running.service.settings
    running.service.stop()
    again = start_service(settings)
    try:
        found = api(again, "GET", "/experiments/interrupted").json()
        assert (found["status"], found["reason"]) == ("failed", STOPPED)
        # App runs wait for their app, which may outlive a restart: they are left running.
        ExperimentStore(again.service.metadata).create(NewExperiment("default", "app-side", "golden", 1, "app", 1))
        again.service.stop()
        third = start_service(settings)
        assert api(third, "GET", "/experiments/app-side").json()["status"] == "running"
        third.service.stop()
    finally:
        fake.close()


def test_a_run_in_another_project_sends_its_spans_there_with_a_key_of_its_own(running: Running,
                                                                              fake: FakeOpenAI) -> None:
    metadata = running.service.metadata
    metadata.ensure_project("team")
    assert api(running, "POST", "/datasets", {"name": "golden"}, project="team").status_code == 201
    assert api(running, "POST", "/datasets/golden/items", [{"input": "q"}], project="team").status_code == 201
    fake.set("q", answer("ok"))
    body = {"name": "team-run", "dataset": "golden", "model": "gpt-4o-mini", "endpoint": fake.url}
    assert api(running, "POST", "/experiments", body, project="team").status_code == 202
    found: dict[str, Any] = {}
    wait_for(lambda: found.update(api(running, "GET", "/experiments/team-run", project="team").json())
             or found["status"] != "running", 60, "the run did not finish")
    (result,) = found["results"]
    assert found["status"] == "done" and result["cost"] is not None and result["cost"] > 0
    assert api(running, "GET", f"/traces/{result['trace_id']}", project="team").status_code == 200
    assert api(running, "GET", f"/traces/{result['trace_id']}").status_code == 404  # not in the default project
    (key,) = metadata.list_keys("team")
    assert key.name == "experiment team-run" and key.revoked_at is not None
    assert api(running, "GET", "/experiments/team-run").status_code == 404
