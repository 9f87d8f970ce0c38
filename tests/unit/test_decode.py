"""OTLP decoding: the corpus bodies real libraries sent, OTLP/JSON variants, bad input."""

from __future__ import annotations

import gzip
import json
import re
import zlib
from typing import Any

import pytest
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span
from opentelemetry.proto.trace.v1.trace_pb2 import Status as SpanStatus

from collector.check import check_traces
from collector.decode import decode_logs, decode_traces
from collector.errors import DecodeError, Overloaded, PayloadTooLarge, UnsupportedMediaType
from collector.metric_points import decode_metric_points
from collector.transport import (
    answer_media_type,
    decompress_body,
    encode_logs_response,
    encode_metrics_response,
    encode_status,
    encode_trace_response,
)
from tests.corpus import corpus_available, iter_payload_records, labels, load_payload, manifest_items

LIMIT = 64 << 20
PROTOBUF = "application/x-protobuf"
JSON = "application/json"
TRACE_ID = bytes(range(1, 17))
SPAN_ID = bytes(range(1, 9))

needs_corpus = pytest.mark.skipif(not corpus_available(), reason="shared/otlp-corpus not found")


def _corpus_cases(signal: str) -> list[Any]:
    if not corpus_available():
        return []
    return [
        pytest.param(payload, id=f"{label}/{payload.name}")
        for label in labels()
        for payload in iter_payload_records(label, signal)
    ]


def _body(payload: Any) -> bytes:
    return decompress_body(payload.body, payload.content_encoding, LIMIT)


def _protobuf_trace_cases() -> list[Any]:
    return [case for case in _corpus_cases("traces") if case.values[0].content_type == PROTOBUF]


# --- the corpus -------------------------------------------------------------------------------


@needs_corpus
@pytest.mark.parametrize("payload", _corpus_cases("traces"))
def test_corpus_traces_decode_with_manifest_span_count(payload: Any) -> None:
    decoded = decode_traces(_body(payload), payload.content_type)
    assert len(decoded.spans) == manifest_items(payload.label)[payload.name]
    assert decoded.rejected == 0
    assert all(len(s.trace_id) == 32 and len(s.span_id) == 16 for s in decoded.spans)


@needs_corpus
@pytest.mark.parametrize("payload", _corpus_cases("logs"))
def test_corpus_logs_decode_with_event_names(payload: Any) -> None:
    decoded = decode_logs(_body(payload), payload.content_type)
    assert len(decoded.records) == manifest_items(payload.label)[payload.name]
    assert all(record.event_name.startswith("gen_ai.") for record in decoded.records)


@needs_corpus
@pytest.mark.parametrize("payload", _corpus_cases("metrics"))
def test_corpus_metrics_count_data_points(payload: Any) -> None:
    expected = _count_points(json.loads(payload.decoded_json_path.read_text()))
    decoded = decode_metric_points(_body(payload), payload.content_type, "p1")
    assert len(decoded.rows) + decoded.skipped == expected > 0


def _count_points(document: dict[str, Any]) -> int:
    return sum(
        len(data.get("dataPoints", []))
        for rm in document["resourceMetrics"]
        for sm in rm["scopeMetrics"]
        for metric in sm["metrics"]
        for data in metric.values()
        if isinstance(data, dict)
    )


@needs_corpus
@pytest.mark.parametrize("payload", _protobuf_trace_cases())
def test_corpus_json_rendering_decodes_like_protobuf(payload: Any) -> None:
    from_protobuf = decode_traces(_body(payload), PROTOBUF)
    from_json = decode_traces(payload.decoded_json_path.read_bytes(), JSON)
    assert from_json == from_protobuf


# --- OTLP/JSON variants -----------------------------------------------------------------------


def _corpus_json_document() -> tuple[dict[str, Any], Any]:
    payload = load_payload(_protobuf_trace_cases()[0].values[0].path)
    return json.loads(payload.decoded_json_path.read_text()), decode_traces(_body(payload), PROTOBUF)


def _snake_case(node: Any) -> Any:
    if isinstance(node, dict):
        return {re.sub(r"(?<!^)(?=[A-Z])", "_", k).lower(): _snake_case(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_snake_case(item) for item in node]
    return node


def _int64_as_numbers(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: int(v) if _is_int64(k, v) else _int64_as_numbers(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_int64_as_numbers(item) for item in node]
    return node


def _is_int64(key: str, value: Any) -> bool:
    return isinstance(value, str) and (key == "intValue" or key.endswith("UnixNano"))


def _enum_names(document: dict[str, Any]) -> dict[str, Any]:
    for resource_spans in document["resourceSpans"]:
        for scope_spans in resource_spans["scopeSpans"]:
            for span in scope_spans["spans"]:
                span["kind"] = Span.SpanKind.Name(span.get("kind", 0))
                status = span.setdefault("status", {})
                status["code"] = SpanStatus.StatusCode.Name(status.get("code", 0))
    return document


@needs_corpus
@pytest.mark.parametrize(
    "variant",
    [_snake_case, _int64_as_numbers, _enum_names, lambda d: _snake_case(_int64_as_numbers(_enum_names(d)))],
    ids=["snake_case", "int64_numbers", "enum_names", "all_three"],
)
def test_json_variants_decode_identically(variant: Any) -> None:
    document, expected = _corpus_json_document()
    body = json.dumps(variant(document)).encode()
    assert decode_traces(body, "application/json; charset=utf-8") == expected


def test_json_int64_as_string_or_number_and_enum_int_or_name() -> None:
    span = {"traceId": TRACE_ID.hex(), "spanId": SPAN_ID.hex(), "name": "s"}
    as_strings = {**span, "kind": 3, "startTimeUnixNano": "1700000000000000001", "status": {"code": 2}}
    as_numbers = {
        **span, "kind": "SPAN_KIND_CLIENT", "startTimeUnixNano": 1700000000000000001,
        "status": {"code": "STATUS_CODE_ERROR"},
    }
    first, second = (decode_traces(_json_traces(s), JSON).spans[0] for s in (as_strings, as_numbers))
    assert first == second
    assert (first.kind, first.start_ns, first.status_code) == (3, 1700000000000000001, 2)


def _json_traces(*spans: dict[str, Any]) -> bytes:
    return json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": list(spans)}]}]}).encode()


# --- values and ids ---------------------------------------------------------------------------


def _trace_request(*spans: Span) -> bytes:
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.add(key="service.name").value.string_value = "svc"
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name, scope_spans.scope.version = "scope", "1.0"
    scope_spans.spans.extend(spans)
    return request.SerializeToString()


def _span(name: str = "s", trace_id: bytes = TRACE_ID, span_id: bytes = SPAN_ID, parent: bytes = b"") -> Span:
    return Span(name=name, trace_id=trace_id, span_id=span_id, parent_span_id=parent)


def test_any_values_become_plain_python() -> None:
    span = _span()
    attrs = span.attributes
    attrs.add(key="s").value.string_value = "text"
    attrs.add(key="b").value.bool_value = True
    attrs.add(key="i").value.int_value = -7
    attrs.add(key="d").value.double_value = 0.5
    attrs.add(key="raw").value.bytes_value = b"\x00\xff"
    array = attrs.add(key="a").value.array_value.values
    array.add().string_value = "x"
    array.add().int_value = 2
    kvlist = attrs.add(key="kv").value.kvlist_value.values
    kvlist.add(key="inner").value.double_value = 1.5
    attrs.add(key="unset")
    decoded = decode_traces(_trace_request(span), PROTOBUF).spans[0]
    assert decoded.attributes == {
        "s": "text", "b": True, "i": -7, "d": 0.5, "raw": "AP8=",
        "a": ["x", 2], "kv": {"inner": 1.5}, "unset": None,
    }
    assert decoded.resource == {"service.name": "svc"}
    assert (decoded.scope_name, decoded.scope_version) == ("scope", "1.0")


def test_ids_are_lowercase_hex_and_empty_parent_is_empty_string() -> None:
    root, child = decode_traces(_trace_request(_span(), _span(parent=b"\xab" * 8)), PROTOBUF).spans
    assert (root.trace_id, root.span_id, root.parent_span_id) == (TRACE_ID.hex(), SPAN_ID.hex(), "")
    assert child.parent_span_id == "ab" * 8


def test_events_and_links_are_decoded() -> None:
    span = _span()
    event = span.events.add(name="exception", time_unix_nano=5)
    event.attributes.add(key="exception.type").value.string_value = "RateLimitError"
    span.links.add(trace_id=TRACE_ID, span_id=b"\x02" * 8)
    decoded = decode_traces(_trace_request(span), PROTOBUF).spans[0]
    assert decoded.events[0].name == "exception"
    assert decoded.events[0].attributes == {"exception.type": "RateLimitError"}
    assert decoded.links[0].span_id == "02" * 8


def test_spans_with_bad_ids_are_rejected_not_the_request() -> None:
    spans = [
        _span("good"), _span("short trace", trace_id=b"\x01" * 4), _span("zero span", span_id=bytes(8)),
        _span("bad parent", parent=b"\x01" * 3),
    ]
    decoded = decode_traces(_trace_request(*spans), PROTOBUF)
    assert [s.name for s in decoded.spans] == ["good"]
    assert decoded.rejected == 3
    assert any("trace_id" in reason for reason in decoded.reasons)
    assert decoded.error_message.startswith("3 spans rejected: ")


def test_json_span_with_non_hex_id_is_rejected() -> None:
    good = {"traceId": TRACE_ID.hex(), "spanId": SPAN_ID.hex(), "name": "good"}
    bad = {"traceId": "not-hex-at-all", "spanId": SPAN_ID.hex(), "name": "bad"}
    base64_ids = {"traceId": "AQIDBAUGBwgJCgsMDQ4PEA==", "spanId": SPAN_ID.hex(), "name": "base64"}
    decoded = decode_traces(_json_traces(good, bad, base64_ids), JSON)
    assert [s.name for s in decoded.spans] == ["good"]
    assert decoded.rejected == 2


# --- logs --------------------------------------------------------------------------------------


def test_log_event_name_from_field_or_legacy_attribute() -> None:
    request = ExportLogsServiceRequest()
    records = request.resource_logs.add().scope_logs.add().log_records
    records.add(event_name="gen_ai.choice", time_unix_nano=10).body.kvlist_value.values.add(
        key="index"
    ).value.int_value = 0
    legacy = records.add(observed_time_unix_nano=20, trace_id=TRACE_ID, span_id=SPAN_ID)
    legacy.attributes.add(key="event.name").value.string_value = "gen_ai.user.message"
    first, second = decode_logs(request.SerializeToString(), PROTOBUF).records
    assert (first.event_name, first.body, first.time_ns) == ("gen_ai.choice", {"index": 0}, 10)
    assert (second.event_name, second.body, second.time_ns) == ("gen_ai.user.message", None, 20)
    assert (second.trace_id, second.span_id) == (TRACE_ID.hex(), SPAN_ID.hex())


def test_json_logs_with_hex_ids_and_either_field_spelling() -> None:
    record = {"timeUnixNano": "7", "traceId": TRACE_ID.hex(), "spanId": SPAN_ID.hex(),
              "eventName": "gen_ai.choice", "body": {"kvlistValue": {"values": [
                  {"key": "index", "value": {"intValue": "0"}}]}}}
    snake = {"time_unix_nano": 7, "trace_id": TRACE_ID.hex(), "span_id": SPAN_ID.hex(),
             "event_name": "gen_ai.choice", "body": {"kvlist_value": {"values": [
                 {"key": "index", "value": {"int_value": 0}}]}}}
    decoded = [
        decode_logs(json.dumps({"resourceLogs": [{"scopeLogs": [{"logRecords": [r]}]}]}).encode(), JSON)
        for r in (record, snake)
    ]
    assert decoded[0] == decoded[1]
    first = decoded[0].records[0]
    assert (first.trace_id, first.event_name, first.body, first.time_ns) == (
        TRACE_ID.hex(), "gen_ai.choice", {"index": 0}, 7,
    )


def test_log_record_with_malformed_ids_is_rejected() -> None:
    request = ExportLogsServiceRequest()
    records = request.resource_logs.add().scope_logs.add().log_records
    records.add(event_name="ok")
    records.add(event_name="bad", trace_id=b"\x01" * 5)
    decoded = decode_logs(request.SerializeToString(), PROTOBUF)
    assert [r.event_name for r in decoded.records] == ["ok"]
    assert decoded.rejected == 1


def test_span_and_log_times_storage_cannot_hold_are_refused_with_the_reason() -> None:
    """2^64-1 ns is the year 2554: it was stored as some other time and never listed."""
    spans = [Span(trace_id=TRACE_ID, span_id=bytes([i + 1] * 8), name=f"s{i}", start_time_unix_nano=start,
                  end_time_unix_nano=end)
             for i, (start, end) in enumerate([(2**64 - 1, 2**64 - 1), (1, 2**64 - 1), (1, 2), (0, 0)])]
    body = ExportTraceServiceRequest(resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=spans)])])
    checked = check_traces(body.SerializeToString(), PROTOBUF)
    assert (checked.valid, checked.rejected) == (2, 2)
    assert checked.reasons == [
        "span 's0': start_time_unix_nano is after 2299-12-31, the last day storage holds; send the time in Unix "
        "nanoseconds",
        "span 's1': end_time_unix_nano is after 2299-12-31, the last day storage holds; send the time in Unix "
        "nanoseconds",
    ]
    assert [s.name for s in decode_traces(body.SerializeToString(), PROTOBUF).spans] == ["s2", "s3"]
    request = ExportLogsServiceRequest()
    records = request.resource_logs.add().scope_logs.add().log_records
    records.add(event_name="late", time_unix_nano=2**64 - 1)
    records.add(event_name="observed late", observed_time_unix_nano=2**64 - 1)
    records.add(event_name="ok", time_unix_nano=5, observed_time_unix_nano=2**64 - 1)
    decoded = decode_logs(request.SerializeToString(), PROTOBUF)
    assert [r.event_name for r in decoded.records] == ["ok"] and decoded.rejected == 2


# --- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"\x0a\xff\x01truncated", PROTOBUF),
        (b"{not json", JSON),
        (b"[1, 2]", JSON),
        (b'{"resourceSpans": 5}', JSON),
        (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"startTimeUnixNano": "soon"}]}]}]}', JSON),
        (b"\xff\xfe garbage", JSON),
    ],
)
def test_garbage_raises_decode_error(body: bytes, content_type: str) -> None:
    with pytest.raises(DecodeError) as caught:
        decode_traces(body, content_type)
    assert caught.value.status == 400
    assert "OTLP" in caught.value.message or "protobuf" in caught.value.message


@pytest.mark.parametrize("content_type", ["text/plain", "", "application/grpc"])
def test_unsupported_content_type(content_type: str) -> None:
    with pytest.raises(UnsupportedMediaType) as caught:
        decode_traces(b"", content_type)
    assert caught.value.status == 415


@pytest.mark.parametrize("content_type", ["application/protobuf", "Application/X-Protobuf; charset=utf-8"])
def test_protobuf_content_type_spellings(content_type: str) -> None:
    assert len(decode_traces(_trace_request(_span()), content_type).spans) == 1


def test_empty_bodies_decode_to_nothing() -> None:
    assert decode_traces(b"", PROTOBUF).spans == []
    assert decode_traces(b"{}", JSON).spans == []
    assert decode_metric_points(b"{}", JSON, "p1").rows == []


# --- compression -------------------------------------------------------------------------------


def _gzip_bomb(size: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(1 << 20)
    chunks = [compressor.compress(zeros) for _ in range(size >> 20)]
    return b"".join(chunks) + compressor.flush()


def test_gzip_bomb_is_stopped_at_the_limit() -> None:
    bomb = _gzip_bomb(256 << 20)
    assert len(bomb) < 1 << 20
    with pytest.raises(PayloadTooLarge) as caught:
        decompress_body(bomb, "gzip", 1 << 20)
    assert caught.value.status == 413


def test_limit_applies_exactly() -> None:
    body = b"x" * 1000
    assert decompress_body(gzip.compress(body), "gzip", 1000) == body
    with pytest.raises(PayloadTooLarge):
        decompress_body(gzip.compress(body), "gzip", 999)
    with pytest.raises(PayloadTooLarge):
        decompress_body(body, None, 999)


@pytest.mark.parametrize("body", [gzip.compress(b"hello world" * 100, mtime=0)[:-12], b"definitely not gzip",
                                  gzip.compress(b"", mtime=0)[:-1]])
def test_corrupt_or_truncated_gzip_is_a_decode_error(body: bytes) -> None:
    with pytest.raises(DecodeError):
        decompress_body(body, "gzip", LIMIT)


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "identity"])
def test_no_body_or_a_stream_of_nothing_is_an_empty_request(encoding: str) -> None:
    """The spec answers an empty request with success, however it is labelled."""
    compressed = {"gzip": gzip.compress(b""), "deflate": zlib.compress(b""), "identity": b""}[encoding]
    assert decompress_body(b"", encoding, LIMIT) == b"" == decompress_body(compressed, encoding, LIMIT)


def test_deflate_identity_and_concatenated_gzip() -> None:
    body = b"payload" * 50
    assert decompress_body(zlib.compress(body), "deflate", LIMIT) == body
    raw = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    assert decompress_body(raw.compress(body) + raw.flush(), "Deflate", LIMIT) == body
    assert decompress_body(body, "identity", LIMIT) == body
    assert decompress_body(gzip.compress(b"ab") + gzip.compress(b"cd"), "gzip", LIMIT) == b"abcd"


def test_unknown_encoding_is_415() -> None:
    with pytest.raises(UnsupportedMediaType) as caught:
        decompress_body(b"...", "br", LIMIT)
    assert caught.value.status == 415
    assert "gzip" in caught.value.message


# --- responses ---------------------------------------------------------------------------------


def test_trace_response_json_uses_camel_case_and_int64_strings() -> None:
    body = encode_trace_response(2, "2 spans rejected", "application/json; charset=utf-8")
    assert json.loads(body) == {"partialSuccess": {"rejectedSpans": "2", "errorMessage": "2 spans rejected"}}
    assert json.loads(encode_trace_response(0, "", JSON)) == {}


def test_trace_response_protobuf_round_trips() -> None:
    response = ExportTraceServiceResponse.FromString(encode_trace_response(3, "bad ids", PROTOBUF))
    assert (response.partial_success.rejected_spans, response.partial_success.error_message) == (3, "bad ids")
    assert encode_trace_response(0, "", PROTOBUF) == b""


def test_logs_and_metrics_responses() -> None:
    assert json.loads(encode_logs_response(1, "m", JSON)) == {
        "partialSuccess": {"rejectedLogRecords": "1", "errorMessage": "m"}
    }
    assert json.loads(encode_metrics_response(0, "", JSON)) == {}


def test_status_body_in_request_encoding() -> None:
    assert json.loads(encode_status(3, "fix it", JSON)) == {"code": 3, "message": "fix it"}
    assert Status.FromString(encode_status(14, "busy", PROTOBUF)) == Status(code=14, message="busy")
    assert answer_media_type("application/json; charset=utf-8") == JSON
    assert answer_media_type("application/x-protobuf") == PROTOBUF


def test_error_hierarchy_statuses() -> None:
    overloaded = Overloaded("queue full; retry later", retry_after=7)
    assert (overloaded.status, overloaded.retry_after, str(overloaded)) == (503, 7, "queue full; retry later")
