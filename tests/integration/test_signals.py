"""Per-call failure signals end to end: spans from the real OpenTelemetry SDK exporter over HTTP into a
running service, rolled up by the metrics detector, read back as time series, a rule firing on
parse_failure_rate, the signal= filter, and the rollup holding exactly the raw counts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

from tests.conftest import Running, api, make_settings, run_detectors, start_service

# Every span starts in one hour two hours ago: whole in the rollup once the detector ran, and a
# fixed point, not "now" (no wall-clock dependence inside the window).
HOUR = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
WINDOW = {"from": HOUR.isoformat(), "to": (HOUR + timedelta(hours=1)).isoformat()}
PERSON = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}


def at(minute: int) -> int:
    return int((HOUR + timedelta(minutes=minute, seconds=7)).timestamp() * 1e9)


def chat(answer: str, *, finish: str = "stop", extra: dict[str, Any] | None = None,
         inputs: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """OTel GenAI ≥1.37 chat attributes with content captured (`span_only`)."""
    messages = inputs or [{"role": "user", "parts": [{"type": "text", "content": "Who?"}]}]
    return {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.usage.input_tokens": 100, "gen_ai.usage.output_tokens": 20,
            "gen_ai.response.finish_reasons": [finish], "gen_ai.input.messages": json.dumps(messages),
            "gen_ai.output.messages": json.dumps([{"role": "assistant", "finish_reason": finish,
                                                   "parts": [{"type": "text", "content": answer}]}]),
            **(extra or {})}


JSON = {"gen_ai.output.type": "json"}
SCHEMA = {"gen_ai.request.structured_output_schema": json.dumps(PERSON)}
FAILED_TOOL_TURN = [
    {"role": "user", "parts": [{"type": "text", "content": "Weather?"}]},
    {"role": "assistant", "parts": [{"type": "tool_call", "id": "c1", "name": "weather", "arguments": {}}]},
    {"role": "tool", "parts": [{"type": "tool_call_response", "id": "c1",
                                "response": "An error occurred while running the tool. Error: 502"}]},
]
# trace → its chat calls' attributes (each call a span of its own under the trace's root).
TRACES: dict[str, list[dict[str, Any]]] = {
    "json-ok": [chat('{"name": "Ada"}', extra=JSON), chat('{"name": "Bob"}', extra=SCHEMA)],
    "json-broken": [chat('{"name": "Ada"', extra=JSON)],
    "json-off-schema": [chat('{"nom": "Ada"}', extra=SCHEMA)],
    "refused": [chat("I'm sorry, but I can't help with that.")],
    "filtered": [chat("", finish="content_filter")],
    "cut": [chat("The long answer goes on and", finish="length"), chat("Fine.")],
    "tool-told": [chat("The weather service is down.", inputs=FAILED_TOOL_TURN)],
    "plain": [chat("Hello."), chat("Hi again.")],
}
EXPECTED = {"requests": 11, "json_requests": 4, "parse_failures": 2, "refusals": 2, "truncations": 1,
            "tool_errors": 1}


def send(exporter_url: str) -> dict[str, str]:
    """Send every trace (plus one whose tool execution failed) through the SDK; trace name → id."""
    provider = TracerProvider(resource=Resource.create({"service.name": "extractor"}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=exporter_url + "/v1/traces")))
    tracer, ids = provider.get_tracer("test.app", "1.0"), {}
    for minute, (name, calls) in enumerate(TRACES.items()):
        root = tracer.start_span(name, start_time=at(minute))
        context = trace.set_span_in_context(root)
        for i, attributes in enumerate(calls):
            span = tracer.start_span("chat gpt-4o-mini", context, SpanKind.CLIENT, attributes,
                                     start_time=at(minute) + i * 10**8)
            span.end(end_time=at(minute) + i * 10**8 + 5 * 10**7)
        root.end(end_time=at(minute) + 10**9)
        ids[name] = format(root.get_span_context().trace_id, "032x")
    ids["tool-failed"] = _failed_tool_trace(tracer, at(30))
    provider.shutdown()
    return ids


def _failed_tool_trace(tracer: trace.Tracer, start: int) -> str:
    root = tracer.start_span("agent", start_time=start)
    tool = tracer.start_span("execute_tool weather", trace.set_span_in_context(root), SpanKind.INTERNAL,
                             {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "weather",
                              "error.type": "TimeoutError"}, start_time=start + 10**6)
    tool.set_status(Status(StatusCode.ERROR, "timed out"))
    tool.end(end_time=start + 10**8)
    root.end(end_time=start + 10**9)
    return format(root.get_span_context().trace_id, "032x")


@pytest.fixture(scope="module")
def sent(tmp_path_factory: pytest.TempPathFactory, chdb_dsn: str) -> Iterator[tuple[Running, dict[str, str]]]:
    running = start_service(make_settings(tmp_path_factory.mktemp("signals"), chdb_dsn))
    ids = send(running.otlp_url)
    running.flush()
    run_detectors(running, "metrics")
    yield running, ids
    running.service.stop()


def test_the_series_read_the_rollup_and_it_holds_the_raw_counts(sent: tuple[Running, dict[str, str]]) -> None:
    running, _ = sent
    store = running.service.store
    held = store.query_dicts(
        "SELECT sum(requests) AS requests, sum(json_requests) AS json_requests, sum(parse_failures) AS parse_failures,"
        " sum(refusals) AS refusals, sum(truncations) AS truncations, sum(tool_errors) AS tool_errors "
        "FROM {db}.call_metrics_minute AS m FINAL WHERE m.project_id = 'default' AND m.requests > 0", {}, "test")[0]
    raw = store.query_dicts(
        "SELECT count() AS requests, countIf(json_requested) AS json_requests, "
        "countIf(parse_failure) AS parse_failures, countIf(refusal) AS refusals, "
        "countIf(truncated) AS truncations, countIf(tool_error) AS tool_errors "
        "FROM {db}.spans AS s FINAL WHERE s.project_id = 'default' AND s.is_call", {}, "test")[0]
    assert held == raw == EXPECTED
    hours = store.query("SELECT sum(parse_failures), sum(tool_errors) FROM {db}.call_metrics_hour FINAL "
                        "WHERE project_id = 'default'", {}, "test")
    assert hours == [(2, 1)]

    metrics = "parse_failure_rate,refusal_rate,truncation_rate,tool_error_rate,parse_failures,json_requests"
    series = running.get("/api/v1/metrics/timeseries", metric=metrics, bucket="hour", **WINDOW).json()
    (point,) = series["series"][0]["points"]
    assert point == {"t": HOUR.isoformat(), "parse_failure_rate": 0.5, "refusal_rate": pytest.approx(2 / 11),
                     "truncation_rate": pytest.approx(1 / 11), "tool_error_rate": pytest.approx(1 / 11),
                     "parse_failures": 2, "json_requests": 4}


def test_a_rule_fires_on_the_parse_failure_rate(sent: tuple[Running, dict[str, str]]) -> None:
    running, _ = sent
    rule = {"name": "Structured output breaking", "metric": "parse_failure_rate", "comparator": ">",
            "threshold": 0.2, "window": "1d", "for": "0s", "severity": "critical"}
    created = api(running, "POST", "/alert-rules", rule)
    assert created.status_code == 201, created.text
    quiet = api(running, "POST", "/alert-rules", {**rule, "name": "quiet", "metric": "refusal_rate",
                                                  "threshold": 0.5})
    assert quiet.status_code == 201, quiet.text
    run_detectors(running, "alerts")
    alerts = api(running, "GET", "/alerts").json()
    assert [(a["state"], a["rule_id"], a["value"]) for a in alerts] == [("firing", created.json()["id"], 0.5)]


def test_the_signal_filter_on_traces_summary_and_series(sent: tuple[Running, dict[str, str]]) -> None:
    running, ids = sent

    def traces(signal: str) -> set[str]:
        body = running.get("/api/v1/traces", signal=signal, **WINDOW).json()
        return {t["trace_id"] for t in body["traces"]}

    assert traces("parse_failure") == {ids["json-broken"], ids["json-off-schema"]}
    assert traces("refusal") == {ids["refused"], ids["filtered"]}
    assert traces("truncated") == {ids["cut"]}
    assert traces("tool_error") == {ids["tool-told"], ids["tool-failed"]}  # a failed tool span counts for its trace
    listed = running.get("/api/v1/traces", **WINDOW).json()["traces"]
    assert {t["trace_id"]: t["signals"] for t in listed}[ids["cut"]] == ["truncated"]

    summary = running.get("/api/v1/metrics/summary", signal="refusal", **WINDOW).json()
    assert summary["filters"] == {"signal": "refusal"} and summary["total"]["requests"] == 2
    series = running.get("/api/v1/metrics/timeseries", metric="requests,truncation_rate", signal="truncated",
                         bucket="hour", **WINDOW).json()
    assert [(p["requests"], p["truncation_rate"]) for p in series["series"][0]["points"]] == [(1, 1.0)]

    for path, params in (("/api/v1/quality/hallucination", {}), ("/api/v1/quality/flagged", {}),
                         ("/api/v1/compare", {"attribute": "model", "a": "gpt-4o-mini", "b": "gpt-4o"})):
        answer = running.get(path, signal="refusal", **params, **WINDOW)  # the other reads that take filters
        assert answer.status_code == 200, (path, answer.text)
    refused = running.get("/api/v1/traces", signal="hallucination", **WINDOW)
    assert refused.status_code == 400 and "parse_failure" in refused.json()["error"]
    assert running.get("/api/v1/shadow", signal="refusal").status_code == 400  # the pairs keep no signal


def test_the_trace_shows_each_calls_signals(sent: tuple[Running, dict[str, str]]) -> None:
    running, ids = sent
    spans = running.get(f"/api/v1/traces/{ids['json-off-schema']}").json()["spans"]
    (call,) = [s for s in spans if s["span_type"] == "llm"]
    assert (call["json_requested"], call["parse_failure"], call["refusal"]) == (True, True, False)
    assert call["attributes"]["llmpulse.parse_failure"] == \
        "breaks the schema at the top level: 'name' is a required property"
    tool = [s for s in running.get(f"/api/v1/traces/{ids['tool-failed']}").json()["spans"] if s["span_type"] == "tool"]
    assert [s["tool_error"] for s in tool] == [True]


def test_spans_stored_before_the_signals_read_the_old_refusal_rule(sent: tuple[Running, dict[str, str]]) -> None:
    """Migration 0013's defaults: a row written without the new columns reads the refusal verdict the
    drift detector's SQL gave it, and its truncation from its finish reason."""
    running, _ = sent
    store = running.service.store
    sql = ("INSERT INTO {db}.spans (project_id, trace_id, span_id, name, span_type, start_time, end_time, "
           "finish_reasons, output_messages) VALUES ('old', 'feed', '01', 'chat', 'llm', now64(6), now64(6), "
           "['length'], '[{\"role\":\"assistant\",\"content\":\"I''m sorry, but I can''t do that\"}]'), "
           "('old', 'feed', '02', 'chat', 'llm', now64(6), now64(6), ['stop'], 'Paris.')")
    store.client.command(sql.replace("{db}", store.database))
    rows = store.query("SELECT span_id, refusal, truncated, parse_failure FROM {db}.spans FINAL "
                       "WHERE project_id = 'old' ORDER BY span_id", {}, "test")
    assert rows == [("01", True, True, False), ("02", False, False, False)]


def test_pages_that_read_signal_less_tables_ignore_a_signal_in_the_url(sent: tuple[Running, dict[str, str]]) -> None:
    """The URL's filters follow a user from page to page; the shadow pairs keep no signal."""
    from dashboard.ui.context import UiContext
    from dashboard.ui.pages.evaluations.shadow import shadow_report
    from dashboard.ui.urls import parse_query
    from schemas.metadata.runs import StateStore

    running, _ = sent
    run_detectors(running, "shadow_pairs")  # so the report reads the pairs table, not raw spans
    service = running.service
    ctx = UiContext(service.store, service.metadata, StateStore(service.metadata))
    report = shadow_report(ctx, parse_query(f"?signal=refusal&from={WINDOW['from']}&to={WINDOW['to']}"))
    assert (report["pairs"], report["unpaired_total"]) == ([], 0)  # no shadow call here; above all, no SQL error
