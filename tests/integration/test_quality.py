"""Hallucination sampling and scoring on `llmpulse demo` traffic (real OTel exporter, real engine),
scores sent by apps, and the quality API."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from llmpulse.demo.send import run_demo
from schemas import experiment_fields as xf
from schemas.clickhouse.evaluations import sampled_spans
from tests.conftest import Running, api, make_settings, run_detector, start_service
from tests.receiver import Receiver, Reply
from tests.spans import PROTOBUF, Call


@pytest.fixture
def demo(running: Running) -> Running:
    run_demo(running.otlp_url, traces=160, seed=11, days=0.5)
    running.flush()
    return running


def ground_truth(running: Running) -> dict[tuple[str, str], bool]:
    rows = running.service.store.query(
        "SELECT trace_id, span_id, attributes['llmpulse.demo.grounded'] FROM {db}.spans FINAL "
        "WHERE mapContains(attributes, 'llmpulse.demo.grounded') AND span_type = 'llm'", {}, "test")
    return {(t, s): g == "true" for t, s, g in rows}


def test_offline_scorer_finds_the_demo_ungrounded_answers(demo: Running) -> None:
    assert api(demo, "PUT", "/projects/default", {"eval_sample_rate": 1.0}).json()["eval_sample_rate"] == 1.0
    run_detector(demo, "hallucination")
    truth = ground_truth(demo)
    flagged = {(s["trace_id"], s["span_id"]) for s in api(demo, "GET", "/quality/flagged", limit=500).json()["spans"]}
    ungrounded = {key for key, grounded in truth.items() if not grounded}
    assert len(ungrounded) >= 5
    caught = len(ungrounded & flagged) / len(ungrounded)
    false_alarms = len({k for k, g in truth.items() if g} & flagged)
    assert caught >= 0.9 and false_alarms <= 0.05 * len(truth), (caught, false_alarms, len(truth))
    result = api(demo, "GET", "/quality/hallucination", group_by="model").json()
    total = result["total"]
    assert total["sampled"] >= len(truth) and total["ci_low"] <= total["rate"] <= total["ci_high"]
    assert sum(g["sampled"] for g in result["groups"]) == total["sampled"]
    again = run_detector(demo, "hallucination")
    assert again["rows_read"] == 0  # a scored span is never scored twice


def test_sample_rate_is_deterministic_and_bounded(demo: Running) -> None:
    api(demo, "PUT", "/projects/default", {"eval_sample_rate": 0.3})
    first = run_detector(demo, "hallucination")["rows_read"]
    llm_calls = demo.service.store.query(
        "SELECT count() FROM {db}.spans FINAL WHERE span_type = 'llm'", {}, "test")[0][0]
    assert 0.15 * llm_calls < first < 0.45 * llm_calls
    api(demo, "PUT", "/projects/default", {"eval_sample_rate": 0.6})
    second = run_detector(demo, "hallucination")["rows_read"]  # only the newly sampled spans
    assert 0.1 * llm_calls < second < 0.5 * llm_calls
    bad = api(demo, "PUT", "/projects/default", {"eval_sample_rate": 1.5})
    assert bad.status_code == 400 and "from 0 to 1" in bad.json()["error"]


def test_app_scores_and_feedback(running: Running) -> None:
    running.send_calls(Call(7, 3))
    trace = f"{7:032x}"
    made = api(running, "POST", "/scores", {"trace_id": trace, "name": "hallucination", "label": "hallucinated",
                                            "comment": "made up a refund window"})
    assert made.status_code == 201 and made.json()["span_id"] == f"{3:016x}"
    thumbs = api(running, "POST", "/scores", {"trace_id": trace, "name": "user_feedback", "value": 0,
                                              "source": "feedback"})
    assert thumbs.status_code == 201
    rate = api(running, "GET", "/quality/hallucination").json()["total"]
    assert (rate["sampled"], rate["flagged"]) == (1, 1)
    missing = api(running, "POST", "/scores", {"trace_id": "f" * 32, "name": "x", "value": 1})
    assert missing.status_code == 404 and "send the score after the trace" in missing.json()["error"]
    for body, message in [({"trace_id": "xyz", "name": "x", "value": 1}, "trace_id must be 32 hex"),
                          ({"trace_id": trace, "name": "x"}, "give a numeric value"),
                          ({"trace_id": trace, "name": "x", "value": "high"}, "value must be a finite number"),
                          ({"trace_id": trace, "name": "x", "value": 1, "colour": 1}, "unknown field 'colour'")]:
        response = api(running, "POST", "/scores", body)
        assert response.status_code == 400 and message in response.json()["error"], response.text


def test_evaluation_events_from_the_app_are_imported(running: Running) -> None:
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
    from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs

    from tests.spans import any_value

    running.send_calls(Call(8, 1))
    record = LogRecord(time_unix_nano=time.time_ns(), event_name="gen_ai.evaluation.result",
                       trace_id=(8).to_bytes(16, "big"), span_id=(1).to_bytes(8, "big"))
    for key, value in {"gen_ai.evaluation.name": "Groundedness", "gen_ai.evaluation.score.value": 0.1,
                       "gen_ai.evaluation.score.label": "ungrounded",
                       "gen_ai.evaluation.explanation": "cites no source"}.items():
        record.attributes.add(key=key, value=any_value(value))
    body = ExportLogsServiceRequest(resource_logs=[ResourceLogs(scope_logs=[ScopeLogs(log_records=[record])])])
    assert running.post_otlp("/v1/logs", body.SerializeToString(), PROTOBUF).status_code == 200
    running.flush()
    assert run_detector(running, "hallucination")["rows_written"] >= 1
    flagged = api(running, "GET", "/quality/flagged").json()["spans"]
    assert [(s["scorer"], s["reason"]) for s in flagged] == [("app:Groundedness", "cites no source")]


def test_llm_judge_scores_and_its_cost_is_recorded(tmp_path: Path, chdb_dsn: str, receiver: Receiver) -> None:
    verdict = {"score": 0.1, "label": "hallucinated", "reason": "the context says 14 days"}
    receiver.default = Reply(200, {"model": "gpt-4o-mini", "usage": {"prompt_tokens": 1000, "completion_tokens": 50},
                                   "choices": [{"message": {"role": "assistant", "content": json.dumps(verdict)}}]})
    running = start_service(make_settings(tmp_path, chdb_dsn, judge_url=receiver.url + "/v1",
                                          judge_api_key="sk-test"))
    try:
        prompt = [{"role": "user", "content": "Context: Refunds take 14 days.\n\nQuestion: how long do refunds take?"}]
        answer = [{"role": "assistant", "content": "Refunds take 30 days."}]
        call = Call(9, 1, extra={"gen_ai.input.messages": json.dumps(prompt),
                                 "gen_ai.output.messages": json.dumps(answer)})
        running.send_calls(call)
        api(running, "PUT", "/projects/default", {"eval_sample_rate": 1.0})
        run_detector(running, "hallucination")
        sent = receiver.wait_for(1)[0]
        assert sent.path == "/v1/chat/completions" and sent.headers["Authorization"] == "Bearer sk-test"
        assert "Refunds take 30 days." in json.dumps(sent.json()["messages"])
        rows = running.service.store.query_dicts(
            "SELECT scorer, hallucinated, cost, input_tokens FROM {db}.evaluations FINAL ORDER BY scorer", {}, "t")
        judged = {r["scorer"]: r for r in rows}["llm_judge"]
        assert judged["hallucinated"] is True and judged["input_tokens"] == 1000
        assert float(judged["cost"]) == pytest.approx(1000 * 0.15e-6 + 50 * 0.6e-6)
        by_scorer = api(running, "GET", "/quality/hallucination", group_by="scorer").json()
        assert by_scorer["total"]["flagged"] == 1  # one span, counted once whichever scorers saw it
    finally:
        running.service.stop()


def test_context_in_the_system_prompt_is_scored_and_instructions_alone_are_not(running: Running) -> None:
    """Many RAG apps put the retrieved text into the system prompt; a bare instruction prompt grounds nothing."""
    question = {"role": "user", "content": "How long is the warranty on batteries?"}
    rag = {"role": "system", "content": "Answer only from this context.\n\nContext:\nOur warranty covers parts "
                                        "and labour for two years. Batteries are covered for 12 months."}
    rules = {"role": "system", "content": "You are a helpful assistant. Always be concise. Never speculate."}
    wrong = [{"role": "assistant", "content": "Batteries are covered for 5 years."}]
    calls = [Call(21, 1, extra={"gen_ai.input.messages": json.dumps([rag, question]),
                                "gen_ai.output.messages": json.dumps(wrong)}),
             Call(22, 1, extra={"gen_ai.input.messages": json.dumps([rules, question]),
                                "gen_ai.output.messages": json.dumps(wrong)})]
    running.send_calls(*calls)
    api(running, "PUT", "/projects/default", {"eval_sample_rate": 1.0})
    run_detector(running, "hallucination")
    rows = running.service.store.query_dicts(
        "SELECT trace_id, label, hallucinated, reason FROM {db}.evaluations FINAL WHERE scorer = 'groundedness'",
        {}, "test")
    by_trace = {r["trace_id"]: r for r in rows}
    assert by_trace[f"{21:032x}"]["hallucinated"] is True, by_trace
    assert "5 years" in by_trace[f"{21:032x}"]["reason"]
    assert by_trace[f"{22:032x}"]["label"] == "unknown" and by_trace[f"{22:032x}"]["hallucinated"] is None
    flagged = api(running, "GET", "/quality/flagged").json()["spans"]
    assert [s["trace_id"] for s in flagged] == [f"{21:032x}"]


def test_experiment_calls_are_not_sampled_as_production(running: Running) -> None:
    """At rate 1.0 a production call is sampled; a call of the in-service runner (our attribute), of
    a Langfuse experiment, or inside an app run's tagged trace is not: an experiment scores its own calls."""
    answer = {"gen_ai.output.messages": json.dumps([{"role": "assistant", "content": "Paris"}])}
    running.send_calls(Call(31, 1, extra=answer),
                       Call(32, 1, extra={**answer, xf.EXPERIMENT_NAME: "candidate", xf.ITEM_ID: 7}),
                       Call(33, 1, extra={**answer, xf.LANGFUSE_EXPERIMENT_NAME: "lf-run"}),
                       # an app run: the item's root span is tagged, its LLM call (a child) is not
                       Call(34, 1, extra={xf.EXPERIMENT_NAME: "app-run", xf.ITEM_ID: 8}), Call(34, 2, extra=answer))
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    sampled = sampled_spans(running.service.store, "default", 1.0, epoch, epoch, "groundedness", 100)
    assert [s.trace_id for s in sampled] == [f"{31:032x}"]
