"""The OTLP/HTTP edge against bad input, auth, backpressure and redelivery; each refusal has
its status code and message, and a refused request stores nothing."""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path

import requests
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from schemas.metadata.users import UserStore
from tests.conftest import Running, login_session, make_settings, start_service

PROTOBUF = {"Content-Type": "application/x-protobuf"}
JSON = {"Content-Type": "application/json"}


def chat_span(trace: int, span: int, response_id: str = "", model: str = "gpt-4o-mini") -> Span:
    now = time.time_ns()
    attrs = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": model,
             "gen_ai.usage.input_tokens": 100, "gen_ai.usage.output_tokens": 10}
    if response_id:
        attrs["gen_ai.response.id"] = response_id
    return Span(
        trace_id=trace.to_bytes(16, "big"), span_id=span.to_bytes(8, "big"), name=f"chat {model}",
        start_time_unix_nano=now - 50_000_000, end_time_unix_nano=now, kind=Span.SPAN_KIND_CLIENT,
        attributes=[KeyValue(key=k, value=_any(v)) for k, v in attrs.items()],
    )


def _any(value: object) -> AnyValue:
    return AnyValue(int_value=value) if isinstance(value, int) else AnyValue(string_value=str(value))


def export_body(*spans: Span) -> bytes:
    request = ExportTraceServiceRequest(resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=list(spans))])])
    return request.SerializeToString()


def span_count(running: Running) -> int:
    running.flush()
    return running.service.store.query("SELECT count() FROM {db}.spans FINAL", {}, "test")[0][0]


def test_unsupported_content_type_is_415_with_status_body(running: Running) -> None:
    response = running.post_otlp("/v1/traces", b"hello", {"Content-Type": "text/plain"})
    assert response.status_code == 415
    assert "application/x-protobuf or application/json" in response.json()["message"]
    assert span_count(running) == 0


def test_undecodable_protobuf_is_400_with_rpc_status(running: Running) -> None:
    response = running.post_otlp("/v1/traces", b"\xff\xfe not protobuf", PROTOBUF)
    assert response.status_code == 400
    status = status_pb2.Status.FromString(response.content)
    assert status.code != 0 and status.message
    bad_json = running.post_otlp("/v1/traces", b"{not json", JSON)
    assert bad_json.status_code == 400 and bad_json.json()["message"]
    assert span_count(running) == 0


def test_body_over_limit_is_413_before_and_after_decompression(tmp_path: Path, chdb_dsn: str) -> None:
    handle = start_service(make_settings(tmp_path, chdb_dsn, max_body_bytes=50_000))
    try:
        big = export_body(*[chat_span(1, i + 1) for i in range(2000)])
        assert len(big) > 50_000
        assert handle.post_otlp("/v1/traces", big, PROTOBUF).status_code == 413
        bomb = gzip.compress(b"\0" * 5_000_000)
        assert len(bomb) < 50_000
        response = handle.post_otlp("/v1/traces", bomb, {**PROTOBUF, "Content-Encoding": "gzip"})
        assert response.status_code == 413
        assert "limit" in status_pb2.Status.FromString(response.content).message
        assert span_count(handle) == 0
    finally:
        handle.service.stop()


def test_unknown_encoding_and_corrupt_gzip(running: Running) -> None:
    body = export_body(chat_span(1, 1))
    assert running.post_otlp("/v1/traces", body, {**PROTOBUF, "Content-Encoding": "br"}).status_code == 415
    corrupt = gzip.compress(body)[:-12] + b"garbage!"
    assert running.post_otlp("/v1/traces", corrupt, {**PROTOBUF, "Content-Encoding": "gzip"}).status_code == 400
    assert span_count(running) == 0


def test_partial_success_rejects_only_bad_spans(running: Running) -> None:
    good = chat_span(7, 1)
    bad = chat_span(7, 2)
    bad.span_id = b"\x01\x02"  # 2 bytes: not a span id
    (response,) = running.send(export_body(good, bad))
    partial = ExportTraceServiceResponse.FromString(response.content).partial_success
    assert partial.rejected_spans == 1 and partial.error_message
    assert span_count(running) == 1

    doc = {"resourceSpans": [{"scopeSpans": [{"spans": [
        {"traceId": "0" * 31 + "9", "spanId": "0" * 15 + "1", "name": "ok", "startTimeUnixNano": "1",
         "endTimeUnixNano": "2"},
        {"traceId": "zz", "spanId": "0" * 15 + "2", "name": "bad"}]}]}]}
    (response,) = running.send(json.dumps(doc).encode(), headers=JSON)
    assert response.json()["partialSuccess"]["rejectedSpans"] in ("1", 1)


def test_redelivered_spans_and_twin_instrumentations_count_once(running: Running) -> None:
    body = export_body(chat_span(11, 1, "resp-1"), chat_span(11, 2, "resp-1"), chat_span(11, 3, "resp-2"))
    running.send(body, body, body)  # an exporter retrying the same batch
    total = running.get("/api/v1/metrics/summary").json()["total"]
    assert total["requests"] == 2  # spans 1 and 2 are one call traced twice
    assert total["input_tokens"] == 200
    assert span_count(running) == 3


def test_key_required_off_loopback(tmp_path: Path, chdb_dsn: str) -> None:
    handle = start_service(make_settings(tmp_path, chdb_dsn, host="0.0.0.0"))
    try:
        body = export_body(chat_span(3, 1))
        response = handle.post_otlp("/v1/traces", body, PROTOBUF)
        assert response.status_code == 401
        assert "llmpulse keys create" in status_pb2.Status.FromString(response.content).message
        key = handle.service.metadata.create_key("acme")
        handle.send(body, headers={"Authorization": f"Bearer {key.key}"})
        handle.send(export_body(chat_span(3, 2)), headers={"x-llmpulse-key": key.key})
        handle.service.metadata.revoke_key(key.info.id)
        wrong = handle.post_otlp("/v1/traces", body, {**PROTOBUF, "Authorization": "Bearer lp_wrong"})
        assert wrong.status_code == 401
        handle.flush()
        UserStore(handle.service.metadata).create("ops", "a long password", "viewer")
        ui = login_session(handle.ui_url, "ops", "a long password")  # off loopback the UI needs a login too
        summary = handle.ui_url + "/api/v1/metrics/summary"
        assert ui.get(summary, params={"project": "acme"}, timeout=30).json()["total"]["requests"] == 2
        assert ui.get(summary, timeout=30).json()["total"]["requests"] == 0
    finally:
        handle.service.stop()


def test_saturated_write_path_answers_503_with_retry_after(tmp_path: Path, chdb_dsn: str) -> None:
    handle = start_service(make_settings(tmp_path, chdb_dsn, queue_max_rows=3, batch_rows=1000, flush_seconds=30))
    try:
        first = handle.post_otlp("/v1/traces", export_body(chat_span(5, 1), chat_span(5, 2)), PROTOBUF)
        assert first.status_code == 200
        second = handle.post_otlp("/v1/traces", export_body(chat_span(6, 1), chat_span(6, 2)), PROTOBUF)
        assert second.status_code == 503
        assert int(second.headers["Retry-After"]) >= 1
        handle.flush()
        assert span_count(handle) == 2
        third = handle.post_otlp("/v1/traces", export_body(chat_span(6, 1), chat_span(6, 2)), PROTOBUF)
        assert third.status_code == 200
    finally:
        handle.service.stop()


def test_health_endpoints_on_both_ports(running: Running) -> None:
    for base in (running.otlp_url, running.ui_url):
        assert requests.get(base + "/healthz", timeout=5).json() == {"status": "ok"}
        assert requests.get(base + "/readyz", timeout=5).status_code == 200


def test_trace_list_totals_count_twin_spans_once(running: Running) -> None:
    body = export_body(chat_span(21, 1, "resp-a"), chat_span(21, 2, "resp-a"), chat_span(21, 3, "resp-b"))
    running.send(body)
    (trace,) = running.get("/api/v1/traces").json()["traces"]
    assert (trace["spans"], trace["llm_calls"], trace["tokens"]) == (3, 2, 220)
    one_call = running.get("/api/v1/metrics/summary").json()["total"]["cost"]["total_exact"]
    assert trace["cost_exact"] == one_call
    assert running.get("/api/v1/traces", sort="cost", order="asc").json()["traces"][0]["trace_id"] == trace["trace_id"]


def test_a_compressed_stream_that_holds_nothing_is_an_empty_request_not_a_truncated_one(running: Running) -> None:
    """The spec answers an empty request with success; a last, empty gzip member once cost the
    whole batch a 400, which exporters do not retry."""
    running.send(gzip.compress(b""), b"", headers={"Content-Encoding": "gzip"})
    members = gzip.compress(export_body(chat_span(8101, 1, "m1"))) + gzip.compress(b"")
    running.send(members, headers={"Content-Encoding": "gzip"})
    assert span_count(running) == 1
    truncated = gzip.compress(export_body(chat_span(8102, 1)))[:-12]
    assert running.post_otlp("/v1/traces", truncated, {**PROTOBUF, "Content-Encoding": "gzip"}).status_code == 400


def test_a_wrong_path_or_method_on_the_otlp_port_is_answered_with_a_status_body(running: Running) -> None:
    wrong_method = requests.get(running.otlp_url + "/v1/traces", headers=PROTOBUF, timeout=30)
    assert wrong_method.status_code == 405 and "POST" in wrong_method.headers["Allow"]
    assert "POST to /v1/traces" in status_pb2.Status.FromString(wrong_method.content).message
    wrong_path = running.post_otlp("/v1/traces/", export_body(chat_span(8103, 1)), JSON)
    assert wrong_path.status_code == 404 and wrong_path.headers["Content-Type"] == "application/json"
    assert "OTLP/HTTP is POST to /v1/traces" in wrong_path.json()["message"]


def test_the_answer_has_the_request_s_own_content_type(running: Running) -> None:
    response = running.post_otlp("/v1/traces", export_body(chat_span(8104, 1)),
                                 {"Content-Type": "application/protobuf"})
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/protobuf"
    refused = running.post_otlp("/v1/traces", b"\xff\xff", {"Content-Type": "application/protobuf"})
    assert refused.status_code == 400 and refused.headers["Content-Type"] == "application/protobuf"


def test_a_non_finite_number_attribute_is_kept_as_proto3_json_spells_it(running: Running) -> None:
    span = chat_span(8105, 1)
    for key, value in (("nan", float("nan")), ("up", float("inf")), ("down", -float("inf"))):
        span.attributes.append(KeyValue(key=f"x.{key}", value=AnyValue(double_value=value)))
    running.send(export_body(span))
    (stored,) = running.get(f"/api/v1/traces/{8105:032x}").json()["spans"]
    assert [stored["attributes"][f"x.{k}"] for k in ("nan", "up", "down")] == ["NaN", "Infinity", "-Infinity"]
