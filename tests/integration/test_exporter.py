"""The real OpenTelemetry SDK exporter, over real HTTP, into a running collector, read back
through the read API: protobuf, gzip-compressed protobuf, and OTLP/JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from opentelemetry.exporter.otlp.json.http import OTLPSpanExporter as JsonSpanExporter
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

from tests.conftest import Running


def send_chat_trace(exporter: SpanExporter, model: str, *, error: bool = False) -> str:
    """One app trace: a chain span with one OTel GenAI chat span under it; returns the trace id."""
    provider = TracerProvider(resource=Resource.create({"service.name": "checkout-bot",
                                                        "deployment.environment.name": "prod"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test.app", "1.0")
    with tracer.start_as_current_span("answer_question") as root:
        with tracer.start_as_current_span(f"chat {model}", kind=SpanKind.CLIENT) as span:
            span.set_attributes({
                "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                "gen_ai.request.model": model, "gen_ai.response.model": f"{model}-2024-07-18",
                "gen_ai.response.id": f"chatcmpl-{model}-{error}",
                "gen_ai.usage.input_tokens": 1200, "gen_ai.usage.output_tokens": 30,
                "gen_ai.usage.cache_read.input_tokens": 1024, "user.id": "user-7", "session.id": "s-1",
                "gen_ai.input.messages": json.dumps([{"role": "user", "parts": [{"type": "text", "content": "Hi"}]}]),
                "gen_ai.output.messages": json.dumps([{"role": "assistant", "parts": [
                    {"type": "text", "content": "Hello there"}], "finish_reason": "stop"}]),
            })
            if error:
                span.set_attribute("error.type", "RateLimitError")
                span.set_status(Status(StatusCode.ERROR, "429 rate limited"))
        trace_id = format(root.get_span_context().trace_id, "032x")
    provider.shutdown()
    return trace_id


EXPORTERS = {
    "protobuf": lambda url: OTLPSpanExporter(endpoint=url + "/v1/traces"),
    "protobuf+gzip": lambda url: OTLPSpanExporter(endpoint=url + "/v1/traces", compression=Compression.Gzip),
    "json": lambda url: JsonSpanExporter(endpoint=url + "/v1/traces"),
}


@pytest.mark.parametrize("encoding", sorted(EXPORTERS))
def test_exporter_round_trip(running: Running, encoding: str) -> None:
    trace_id = send_chat_trace(EXPORTERS[encoding](running.otlp_url), "gpt-4o-mini")
    running.flush()

    detail = running.get(f"/api/v1/traces/{trace_id}").json()
    spans = {s["name"]: s for s in detail["spans"]}
    assert set(spans) == {"answer_question", "chat gpt-4o-mini"}
    chat = spans["chat gpt-4o-mini"]
    assert chat["span_type"] == "llm"
    assert chat["parent_span_id"] == spans["answer_question"]["span_id"]
    assert (chat["request_model"], chat["response_model"], chat["provider"]) == (
        "gpt-4o-mini", "gpt-4o-mini-2024-07-18", "openai")
    assert (chat["input_tokens"], chat["output_tokens"], chat["cache_read_tokens"]) == (1200, 30, 1024)
    assert chat["cost_source"] == "list_price"
    # gpt-4o-mini: $0.15/M input, $0.075/M cached input, $0.60/M output.
    assert chat["cost_total"] == pytest.approx((176 * 0.15 + 1024 * 0.075 + 30 * 0.6) / 1e6)
    assert chat["output_messages"][0]["content"] == "Hello there"
    assert chat["service_name"] == "checkout-bot" and chat["environment"] == "prod"

    summary = running.get("/api/v1/metrics/summary", group_by="model").json()
    assert summary["total"]["requests"] == 1
    assert summary["groups"][0]["key"] == {"model": "gpt-4o-mini"}


def test_trace_list_filters_and_errors(running: Running) -> None:
    exporter = OTLPSpanExporter(endpoint=running.otlp_url + "/v1/traces")
    ok_trace = send_chat_trace(exporter, "gpt-4o-mini")
    bad_trace = send_chat_trace(OTLPSpanExporter(endpoint=running.otlp_url + "/v1/traces"), "gpt-4o", error=True)
    running.flush()

    listed = running.get("/api/v1/traces").json()
    assert {t["trace_id"] for t in listed["traces"]} == {ok_trace, bad_trace}
    assert listed["total"] == 2
    errors = running.get("/api/v1/traces", status="error").json()["traces"]
    assert [t["trace_id"] for t in errors] == [bad_trace]
    by_model = running.get("/api/v1/traces", model="gpt-4o-mini").json()["traces"]
    assert [t["trace_id"] for t in by_model] == [ok_trace]
    by_text = running.get("/api/v1/traces", text="hello THERE").json()["traces"]
    assert len(by_text) == 2
    assert running.get("/api/v1/traces", user="nobody").json()["traces"] == []

    summary = running.get("/api/v1/metrics/summary", group_by="model").json()
    assert summary["total"]["requests"] == 2 and summary["total"]["errors"] == 1


def test_time_window_and_bad_parameters(running: Running) -> None:
    send_chat_trace(OTLPSpanExporter(endpoint=running.otlp_url + "/v1/traces"), "gpt-4o-mini")
    running.flush()
    past = datetime.now(UTC) - timedelta(days=3)
    old = running.get("/api/v1/metrics/summary", to=past.isoformat()).json()
    assert old["total"]["requests"] == 0
    epoch = running.get("/api/v1/metrics/summary", **{"from": str(int(past.timestamp()))}).json()
    assert epoch["total"]["requests"] == 1

    cases = {
        ("/api/v1/metrics/summary", "group_by", "color"): (400, "group_by='color' is not one of"),
        ("/api/v1/metrics/summary", "from", "yesterday"): (400, "is not a time"),
        ("/api/v1/traces", "limit", "0"): (400, "limit must be between 1 and 500"),
        ("/api/v1/traces", "project", "nope"): (404, "project 'nope' does not exist"),
    }
    for (path, name, value), (status, text) in cases.items():
        response = running.get(path, **{name: value})
        assert response.status_code == status, (name, value)
        assert text in response.json()["error"]
    missing = running.get("/api/v1/traces/" + "0" * 32)
    assert missing.status_code == 404 and "not found" in missing.json()["error"]
    assert running.get("/api/v1/traces/xyz").status_code == 400
