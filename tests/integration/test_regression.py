"""A regression run on every model change (issue #23 item 3), end to end: an app's calls exported by
the real OpenTelemetry SDK show a silent swap behind a requested model, the drift detector records
it, the regression job runs the project's regression set against a local fake OpenAI-compatible
target, gates it against the run before the swap, and the failing gate reaches a local receiver
as a webhook alert."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind

from detectors.notify.webhook import SIGNATURE_HEADER, verify_signature
from tests.conftest import Running, api, run_detectors, wait_for
from tests.fake_openai import Behaviour, FakeOpenAI
from tests.receiver import Receiver

MODEL = "gpt-x"
QUESTIONS = {f"What is code {i}?": f"CODE-{i}" for i in range(8)}
SECRET = "hook-secret"


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as handle:
        yield handle


def golden(running: Running) -> None:
    items = [{"input": q, "expected": a, "assertions": {"must_contain": [a]}} for q, a in QUESTIONS.items()]
    assert api(running, "POST", "/datasets", {"name": "golden"}).status_code == 201
    assert api(running, "POST", "/datasets/golden/items", items).status_code == 201


def serve(fake: FakeOpenAI, version: str, right: bool) -> None:
    """The target answers as `version` of the model does: right, or wrong on every item."""
    for question, code in QUESTIONS.items():
        fake.set(question, Behaviour(text=f"It is {code}." if right else "I am not sure.", served_model=version))


def configure(running: Running, fake_url: str, **extra: Any) -> dict[str, Any]:
    body = {"regression_dataset": "golden", "regression_targets": {MODEL: {"endpoint": fake_url}}, **extra}
    response = api(running, "PUT", "/projects/default", body)
    assert response.status_code == 200, response.text
    return response.json()


def webhook(running: Running, receiver: Receiver) -> int:
    created = api(running, "POST", "/channels", {"type": "webhook", "name": "oncall", "url": receiver.url + "/hook",
                                                 "secret": SECRET})
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


def export_calls(running: Running, model: str, served: str, start: datetime, count: int) -> None:
    """`count` chat calls to `model` answered by `served`, a minute apart from `start`, through the
    real SDK exporter."""
    provider = TracerProvider(resource=Resource.create({"service.name": "support-bot"}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=running.otlp_url + "/v1/traces")))
    tracer = provider.get_tracer("test.app")
    for i in range(count):
        begin = int((start + timedelta(minutes=i)).timestamp() * 1e9)
        span = tracer.start_span(f"chat {model}", kind=SpanKind.CLIENT, start_time=begin)
        span.set_attributes({"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                             "gen_ai.request.model": model, "gen_ai.response.model": served,
                             "gen_ai.usage.input_tokens": 40, "gen_ai.usage.output_tokens": 12})
        span.end(end_time=begin + 800_000_000)
    provider.shutdown()
    running.flush()


def silent_swap(running: Running, model: str = MODEL) -> None:
    """v1 served from 3 h ago, v2 from 1 h ago: a change drift reports (after its 1 h settle)."""
    now = datetime.now(UTC)
    export_calls(running, model, f"{model}-v1", now - timedelta(hours=3), 5)
    export_calls(running, model, f"{model}-v2", now - timedelta(hours=1), 5)


def experiments(running: Running) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in api(running, "GET", "/experiments").json()["experiments"]}


def finished(running: Running, name: str) -> dict[str, Any]:
    found: dict[str, Any] = {}

    def done() -> bool:
        found.update(api(running, "GET", f"/experiments/{name}").json())
        return found["status"] != "running"

    wait_for(done, 60, f"experiment {name} did not finish", poll=0.05)
    return found


def regression_pass(running: Running) -> str:
    (run,) = run_detectors(running, "regression")
    assert "; " not in run["message"], run  # a project whose set failed is named after a "; "
    return run["message"]


def model_changes(running: Running) -> list[dict[str, Any]]:
    return api(running, "GET", "/drift", kind="model_change").json()


def test_a_silent_swap_runs_the_set_fails_the_gate_and_alerts(running: Running, fake: FakeOpenAI,
                                                               receiver: Receiver) -> None:
    golden(running)
    hook = webhook(running, receiver)
    serve(fake, f"{MODEL}-v1", right=True)
    settings = configure(running, fake.url)
    assert settings["regression_targets"] == {MODEL: {"endpoint": fake.url, "model": MODEL}}
    # Saved, the set gets a baseline of the version served today: the first change has a run to beat.
    assert regression_pass(running).startswith("1 regression run(s) started")
    (baseline,) = experiments(running)
    assert baseline.startswith(f"regression-{MODEL}-baseline-v1-")
    assert finished(running, baseline)["pass_rate"] == 1.0
    assert regression_pass(running) == "0 regression run(s) started, 1 gated" and not receiver.requests

    serve(fake, f"{MODEL}-v2", right=False)  # the provider swaps the model: worse answers
    silent_swap(running)
    run_detectors(running)  # drift finds the change; the regression job, right after it, starts the run
    (change,) = model_changes(running)
    assert (change["from"], change["to"]) == (f"{MODEL}-v1", f"{MODEL}-v2")
    name = f"regression-{MODEL}-{MODEL}-v2-{change['id'][:8]}"
    assert set(experiments(running)) == {baseline, name}
    assert finished(running, name)["pass_rate"] == 0.0

    assert regression_pass(running) == "0 regression run(s) started, 1 gated"
    (sent,) = receiver.wait_for(1, timeout=30)
    assert verify_signature(sent.body, sent.headers[SIGNATURE_HEADER], SECRET, time.time())
    alert = sent.json()
    assert alert["event"] == "firing" and alert["scope"] == {"model": MODEL, "experiment": name,
                                                             "dataset": "golden", "baseline": baseline}
    assert alert["value"] == 0.0 and alert["threshold"] == 1.0 and alert["metric"] == "pass_rate"
    assert f"({MODEL}-v1 -> {MODEL}-v2)" in alert["summary"]
    assert "the pass rate is significantly worse: 8 regression(s) against 0 improvement(s)" in alert["summary"]
    assert alert["dashboard_url"].endswith(f"/evaluations/experiments/{name}?project=default")
    (incident,) = api(running, "GET", "/alerts").json()
    assert incident["state"] == "firing" and incident["title"].startswith(f"Regression gate failed: {MODEL}")
    assert [d["channel_id"] for d in incident["deliveries"]] == [hook]

    # Re-running every detector starts nothing more and sends nothing more.
    run_detectors(running)
    assert regression_pass(running) == "0 regression run(s) started, 0 gated"
    assert set(experiments(running)) == {baseline, name} and len(receiver.requests) == 1


def test_a_target_that_is_down_fails_the_run_and_raises_an_incident(running: Running, receiver: Receiver) -> None:
    golden(running)
    webhook(running, receiver)
    configure(running, "http://127.0.0.1:9/v1")
    silent_swap(running)
    runs = run_detectors(running)  # drift is not held up nor broken by the target
    assert [r["outcome"] for r in runs if r["detector"] == "drift"] == ["ok"] and len(model_changes(running)) == 1
    (name,) = [n for n in experiments(running) if "-baseline-" not in n]
    # No baseline is started in the pass that found a change: it would measure the new version.
    assert len(experiments(running)) == 1
    found = finished(running, name)
    assert found["status"] == "failed" and "could not connect" in found["reason"]
    # Gated; and no "baseline" follows a failed run: it would measure the new version.
    assert regression_pass(running) == "0 regression run(s) started, 1 gated"
    alert = receiver.wait_for(1, timeout=30)[0].json()
    assert "the run ended failed: every item failed (8)" in alert["summary"] and name in alert["summary"]


def test_a_model_without_a_target_runs_nothing(running: Running, fake: FakeOpenAI, receiver: Receiver) -> None:
    golden(running)
    webhook(running, receiver)
    serve(fake, "other-v1", right=True)
    configure(running, fake.url)
    assert regression_pass(running).startswith("1 regression run(s) started")  # gpt-x's baseline
    (baseline,) = experiments(running)
    finished(running, baseline)
    silent_swap(running, model="other-model")
    run_detectors(running)
    assert [c["model"] for c in model_changes(running)] == ["other-model"]
    assert set(experiments(running)) == {baseline}
    assert regression_pass(running).startswith("0 regression run(s) started") and not receiver.requests


@pytest.mark.parametrize(("body", "words"), [
    ({"regression_dataset": "missing", "regression_targets": {}}, "regression_dataset: no dataset 'missing'"),
    ({"regression_dataset": "golden", "regression_targets": {MODEL: {"endpoint": "ftp://x"}}},
     "regression_targets['gpt-x']: endpoint 'ftp://x' is not an http(s) URL"),
    ({"regression_dataset": "golden", "regression_targets": {MODEL: {"endpoint": "http://x/v1", "api_key": "k"}}},
     "regression_targets['gpt-x']: unknown field 'api_key'"),
    ({"regression_dataset": "golden", "regression_targets": {MODEL: {"endpoint": "http://x/v1",
                                                                     "api_key_env": "HOME"}}},
     "api_key_env 'HOME' is not allowed"),
    ({"regression_dataset": "golden", "regression_targets": {MODEL: {"endpoint": "http://x/v1", "temperature": 9}}},
     "temperature must be a number from 0 to 2"),
    ({"regression_targets": {MODEL: {"endpoint": "http://x/v1"}}}, "regression_dataset is required"),
    ({"regression_dataset": "golden", "regression_min_pass_rate": 2}, "regression_min_pass_rate must be a fraction"),
    ({"regression_dataset": "golden", "regression_channels": [999]}, "regression_channels: no channel 999"),
])
def test_bad_settings_are_a_400_naming_the_field_and_store_nothing(running: Running, body: dict, words: str) -> None:
    golden(running)
    response = api(running, "PUT", "/projects/default", {"retention_days": 7, **body})
    assert response.status_code == 400 and words in response.json()["error"], response.text
    project = api(running, "GET", "/projects/default").json()
    assert project["regression_dataset"] is None and project["retention_days"] == 30


def test_settings_are_returned_updated_in_part_and_removed(running: Running) -> None:
    golden(running)
    target = {"endpoint": "http://127.0.0.1:9/v1", "model": "gpt-x-2025", "system_prompt": "Be brief.",
              "prompt_template": "Q: {{input}}", "temperature": 0, "max_tokens": 50}
    configure(running, "http://unused/v1", regression_targets={MODEL: target}, regression_min_pass_rate=0.9)
    partial = api(running, "PUT", "/projects/default", {"regression_min_pass_rate": 0.8}).json()
    assert partial["regression_targets"] == {MODEL: {**target, "temperature": 0.0}}
    assert partial["regression_min_pass_rate"] == 0.8 and partial["regression_channels"] is None
    listed = {p["name"]: p for p in api(running, "GET", "/projects").json()["projects"]}
    assert listed["default"]["regression_dataset"] == "golden"
    removed = api(running, "PUT", "/projects/default", {"regression_dataset": None}).json()
    assert removed["regression_dataset"] is None and removed["regression_targets"] == {}
    assert api(running, "GET", "/projects/nope").status_code == 404
    assert json.loads(json.dumps(removed)) == api(running, "GET", "/projects/default").json()
