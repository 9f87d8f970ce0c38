"""App-run experiments: an app exports its own spans with the real OpenTelemetry SDK, through the
`llmpulse.evals` helper or with Langfuse's experiment attributes; llmpulse reads them back,
scores them and summarizes. And the LLM judge's correctness and relevance against a fake judge."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from evals.app_spans import NO_SPAN
from llmpulse.evals import NO_OUTPUT, ExperimentError, ExperimentRun
from schemas import experiment_fields as xf
from schemas.dataset_items import parse_items
from schemas.metadata.datasets import DatasetStore
from schemas.metadata.experiments import ExperimentStore
from schemas.metadata.tokens import TokenStore
from tests.conftest import Running, api, make_settings, start_service
from tests.fake_openai import Behaviour, FakeOpenAI, answer
from tests.integration.test_experiments_api import evaluations, finished, golden

ITEMS = [{"input": "Capital of France?", "expected": "Paris"}, {"input": "Capital of Peru?", "expected": "Lima"},
         {"input": "Capital of Chile?", "expected": "Santiago"}]
CALL = {"gen_ai.operation.name": "chat", "gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.usage.input_tokens": 100, "gen_ai.usage.output_tokens": 20}
CALL_COST = 100 * 0.15e-6 + 20 * 0.6e-6  # gpt-4o-mini's list price


@pytest.fixture
def quick(tmp_path: Path, chdb_dsn: str) -> Iterator[Running]:
    """A service that waits 3 s, not 30, for spans that never come."""
    running = start_service(make_settings(tmp_path, chdb_dsn, experiment_readback_seconds=3.0))
    yield running
    running.service.stop()


def test_the_helper_runs_an_app_over_a_dataset_with_the_otel_sdk(running: Running) -> None:
    ids = golden(running, ITEMS)
    answers = {"Capital of France?": "It is Paris.", "Capital of Peru?": "Quito"}
    with ExperimentRun("app-v1", "golden", url=running.ui_url, otlp_endpoint=running.otlp_url,
                       model="gpt-4o-mini") as run:
        for item in run:
            with run.tracer.start_as_current_span("chat gpt-4o-mini", attributes=CALL):  # the app's own LLM call
                pass
            if item.input in answers:
                item.output = answers[item.input]
    found = run.summary
    assert found is not None and found["status"] == "done", found
    assert (found["items"], found["passed"], found["errors"]) == (3, 1, 1)
    results = {r["item_id"]: r for r in found["results"]}
    assert [results[i]["passed"] for i in ids] == [True, False, False]
    assert results[ids[2]]["error"] == NO_OUTPUT
    first = results[ids[0]]
    assert first["output"] == "It is Paris." and first["cost"] == pytest.approx(CALL_COST)
    spans = {s["span_id"]: s for s in api(running, "GET", f"/traces/{first['trace_id']}").json()["spans"]}
    root = spans[first["span_id"]]  # the item's span, parent of the app's call
    assert root["attributes"][xf.EXPERIMENT_NAME] == "app-v1" and root["attributes"][xf.ITEM_ID] == str(ids[0])
    assert first["latency_ms"] == pytest.approx(root["duration_ms"]) and len(spans) == 2
    assert found["cost_total"] == pytest.approx(3 * CALL_COST)  # the item without an answer made its call too
    assert "experiment:expected_match" in evaluations(running, first["trace_id"], first["span_id"])
    assert found["target"] == {"model": "gpt-4o-mini"} and found["runner"] == "app"


def test_an_app_that_fails_mid_run_still_finishes_its_experiment(running: Running) -> None:
    ids = golden(running, ITEMS)
    run = ExperimentRun("crashing", "golden", url=running.ui_url, otlp_endpoint=running.otlp_url)
    with pytest.raises(RuntimeError, match="boom"), run:
        for item in run:
            if item.id == ids[1]:
                raise RuntimeError("boom")
            item.output = "Paris"
    found = run.summary
    assert found is not None and found["status"] == "done"
    results = {r["item_id"]: r["error"] for r in found["results"]}
    assert results == {ids[0]: None, ids[1]: "RuntimeError: boom", ids[2]: NO_SPAN}


def export_langfuse_items(otlp_url: str, items: dict[int, dict[str, Any]]) -> None:
    """Spans as an app instrumented for Langfuse experiments sends them: the item's attributes on
    every span of the item, the root named by root_observation_id."""
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=otlp_url + "/v1/traces")))
    tracer = provider.get_tracer("langfuse-sdk")
    for item_id, spec in items.items():
        tagged = {xf.LANGFUSE_EXPERIMENT_NAME: "lf-run", xf.LANGFUSE_ITEM_ID: str(item_id)}
        with tracer.start_as_current_span("experiment-item-run", attributes=tagged) as root:
            root.set_attribute(xf.LANGFUSE_ROOT_SPAN, format(root.get_span_context().span_id, "016x"))
            if "output" in spec:
                root.set_attribute(xf.LANGFUSE_OUTPUT, json.dumps(spec["output"]))
            with tracer.start_as_current_span("generation", attributes={
                    **tagged, **CALL, "gen_ai.completion.0.role": "assistant",
                    "gen_ai.completion.0.content": spec["call_answer"]}):
                pass
    provider.shutdown()


def test_langfuse_experiment_attributes_are_read_and_missing_items_are_errors(quick: Running) -> None:
    ids = golden(quick, ITEMS)
    created = api(quick, "POST", "/experiments", {"name": "lf-run", "dataset": "golden", "runner": "app"})
    assert created.status_code == 201, created.text
    assert created.json() == {"name": "lf-run", "status": "running", "dataset": "golden", "dataset_version": 1,
                              "item_ids": ids}
    export_langfuse_items(quick.otlp_url, {ids[0]: {"output": "Paris", "call_answer": "draft"},
                                           ids[1]: {"call_answer": "Lima, of course."}})
    assert api(quick, "POST", "/experiments/lf-run/finish").status_code == 202
    found = finished(quick, "lf-run")
    results = {r["item_id"]: r for r in found["results"]}
    assert found["status"] == "done" and (found["passed"], found["errors"]) == (2, 1)
    assert results[ids[0]]["output"] == "Paris"  # the root's recorded output, not the call's draft
    assert results[ids[1]]["output"] == "Lima, of course."  # no output on the root: the last call's answer
    assert results[ids[2]]["error"] == NO_SPAN and results[ids[2]]["cost"] is None
    assert results[ids[0]]["cost"] == pytest.approx(CALL_COST)
    again = api(quick, "POST", "/experiments/lf-run/finish")
    assert again.status_code == 409 and "already done" in again.json()["error"]


class FakeJudge(FakeOpenAI):
    """Says "correct" when the graded answer means the reference (a word list stands in for a model)."""

    SAME = {("14 days", "Two weeks."), ("Paris", "Paris")}

    def _behaviour(self, model: str, question: str) -> Behaviour:
        if "Reference answer:" in question:
            reference = question.split("Reference answer:\n")[1].split("\n\n")[0]
            graded = question.split("Answer to grade:\n")[1]
            right = (reference, graded) in self.SAME
            return Behaviour(json.dumps({"score": 1 if right else 0, "label": "correct" if right else "incorrect",
                                         "reason": "same meaning" if right else "differs"}), served_model="gpt-4o-mini")
        return Behaviour(json.dumps({"score": 0.9, "label": "relevant", "reason": "on topic"}))


def test_the_judge_grades_correctness_in_place_of_the_string_match(tmp_path: Path, chdb_dsn: str) -> None:
    with FakeJudge() as judge, FakeOpenAI() as target:
        running = start_service(make_settings(tmp_path, chdb_dsn, judge_url=judge.url))
        try:
            target.set("How long do refunds take?", answer("Two weeks."))
            target.set("Capital of Peru?", answer("Quito"))
            ids = golden(running, [{"input": "How long do refunds take?", "expected": "14 days"},
                                   {"input": "Capital of Peru?", "expected": "Lima"}])
            api(running, "POST", "/experiments", {"name": "judged", "dataset": "golden", "model": "m",
                                                  "endpoint": target.url})
            found = finished(running, "judged")
        finally:
            running.service.stop()
    results = {r["item_id"]: r for r in found["results"]}
    weeks, peru = results[ids[0]], results[ids[1]]
    assert (weeks["passed"], peru["passed"]) == (True, False)
    assert weeks["scores"]["expected_match"]["passed"] is False and weeks["scores"]["expected_match"]["gates"] is False
    assert weeks["scores"]["correctness"] == {**weeks["scores"]["correctness"], "value": 1.0, "passed": True,
                                              "gates": True, "reason": "same meaning"}
    assert weeks["scores"]["relevance"]["value"] == 0.9 and found["scores"]["relevance"] == {"mean": 0.9, "n": 2}
    rows = evaluations(running, weeks["trace_id"], weeks["span_id"])
    assert (rows["experiment:correctness"]["label"], rows["experiment:relevance"]["label"]) == ("correct", "relevant")
    assert rows["experiment:correctness"]["hallucinated"] is None


def test_an_app_run_on_a_shared_server_needs_an_admin_token(exposed: Running, monkeypatch: pytest.MonkeyPatch) -> None:
    """Off loopback the API wants a token: none is refused with what to do, a viewer's lacks the
    role, an admin's (here from LLMPULSE_TOKEN) runs the app as on loopback."""
    meta = exposed.service.metadata
    DatasetStore(meta).create("default", "golden")
    DatasetStore(meta).add_items("default", "golden", parse_items(ITEMS[:2]))
    ingest_key = meta.create_key("default", "the app").key  # the OTLP port wants a key off loopback too
    where = {"url": exposed.ui_url, "otlp_endpoint": exposed.otlp_url, "ingest_key": ingest_key}
    monkeypatch.delenv("LLMPULSE_TOKEN", raising=False)
    with pytest.raises(ExperimentError, match=r"HTTP 401: .*llmpulse tokens create --user NAME.*LLMPULSE_TOKEN"):
        ExperimentRun("no-token", "golden", **where)
    with pytest.raises(ExperimentError, match=r"HTTP 403: .*admin"):
        ExperimentRun("viewer", "golden", token=TokenStore(meta).create("vic").token, **where)
    assert ExperimentStore(meta).list_experiments("default") == []

    monkeypatch.setenv("LLMPULSE_TOKEN", TokenStore(meta).create("ada").token)
    with ExperimentRun("admin", "golden", **where) as run:
        for item in run:
            item.output = "Paris" if item.input == "Capital of France?" else "Quito"
    assert run.summary is not None and run.summary["status"] == "done", run.summary
    assert (run.summary["items"], run.summary["passed"], run.summary["errors"]) == (2, 1, 0)
