"""OTLP/HTTP wire formats: request bytes in, `RawSpan`/`RawLogRecord` records out.

Both encodings share one path: OTLP/JSON is first turned into the same protobuf message
(after rewriting its hex ids, which `json_format` would misread as base64), so protobuf
and JSON payloads cannot drift apart in what they yield. The protobuf→record conversion is
on the ingest hot path and is written for speed: no `json_format`, one `WhichOneof` per
AnyValue. Nothing here knows about HTTP frameworks or storage.
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from google.protobuf import json_format
from google.protobuf.message import DecodeError as ProtobufDecodeError
from google.protobuf.message import Message
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from collector.counts import CHECKED_KEYS, COST_KEYS, DEFAULT_MAX_COUNT, MAX_REPORTED_COST, span_refusals
from collector.errors import DecodeError, PayloadTooLarge, UnsupportedMediaType
from schemas.records import RawLogRecord, RawSpan, SpanEvent, SpanLink

try:  # compiled by the install (setup.py); without it the reference below does the work
    from collector import _otlp
except ImportError:  # pragma: no cover - a source checkout that was never installed
    _otlp = None
else:
    _otlp.configure(RawSpan, SpanEvent, SpanLink)
    if hasattr(_otlp, "configure_counts"):  # a build older than the count check lacks it
        _otlp.configure_counts(tuple((key.encode(), key in COST_KEYS) for key in sorted(CHECKED_KEYS)))

PROTOBUF_CONTENT_TYPE = "application/x-protobuf"
JSON_CONTENT_TYPE = "application/json"
_PROTOBUF_MEDIA = frozenset({PROTOBUF_CONTENT_TYPE, "application/protobuf"})
_ID_KEYS = frozenset({"traceId", "trace_id", "spanId", "span_id", "parentSpanId", "parent_span_id"})
_MAX_REASONS = 5
_ZERO_TRACE_ID = bytes(16)
_ZERO_SPAN_ID = bytes(8)
_GZIP_WBITS = 16 + zlib.MAX_WBITS
# 2300-01-01T00:00:00Z in ns: DateTime64(6) holds 1900-2299, and a later time would be stored as
# some other one (2^64-1 ns became 2554), then never listed. Earlier ones cannot be sent (uint64).
_END_OF_STORAGE_NS = 10_413_792_000_000_000_000
_TIME_PROBLEM = "{} is after 2299-12-31, the last day storage holds; send the time in Unix nanoseconds"

M = TypeVar("M", bound=Message)

# google.rpc.Code for the HTTP statuses the edge answers with (OTLP/HTTP error bodies).
GRPC_CODE_BY_HTTP_STATUS = {400: 3, 401: 16, 403: 7, 404: 5, 413: 8, 415: 3, 429: 8, 500: 13, 503: 14}


@dataclass(frozen=True, slots=True)
class DecodedTraces:
    """Valid spans plus how many were refused, so the edge can answer `partial_success`."""

    spans: list[RawSpan]
    rejected: int = 0
    reasons: list[str] = field(default_factory=list)

    @property
    def error_message(self) -> str:
        return _rejection_message(self.rejected, "spans", self.reasons)


@dataclass(frozen=True, slots=True)
class DecodedLogs:
    """Valid log records plus how many were refused (see `DecodedTraces`)."""

    records: list[RawLogRecord]
    rejected: int = 0
    reasons: list[str] = field(default_factory=list)

    @property
    def error_message(self) -> str:
        return _rejection_message(self.rejected, "log records", self.reasons)


class _Rejections:
    """Counts refused items but keeps only a few distinct reasons: a bad exporter can send
    thousands of identical faults, and the response message must stay short."""

    def __init__(self) -> None:
        self.count = 0
        self.reasons: list[str] = []

    def add(self, reason: str) -> None:
        self.count += 1
        self.note(reason)

    def note(self, reason: str) -> None:
        """A reason that refuses part of an item, not the item (the span is kept)."""
        if len(self.reasons) < _MAX_REASONS and reason not in self.reasons:
            self.reasons.append(reason)


# --- public API --------------------------------------------------------------------------


def decode_traces(body: bytes, content_type: str) -> DecodedTraces:
    """Decode an (already decompressed) ExportTraceServiceRequest body."""
    request = _parse_request(body, content_type, ExportTraceServiceRequest())
    return _spans_from_request(request)


@dataclass(frozen=True, slots=True)
class CheckedTraces:
    """What the edge needs before acknowledging: the body as protobuf and its valid span count.

    Checking only parses (in C) and looks at ids, so the ack does not wait for the much costlier
    conversion of every attribute; `decode_traces` does that later, off the request path.
    """

    body: bytes
    valid: int
    rejected: int = 0
    reasons: list[str] = field(default_factory=list)


def check_traces(body: bytes, content_type: str, max_count: int = DEFAULT_MAX_COUNT) -> CheckedTraces:
    """Validate an (already decompressed) trace body; JSON comes back re-encoded as protobuf.

    Token counts above `max_count` are refused here, before the ack, so the response can say so;
    the span is kept and counted valid (normalization stores those counts as NULL).
    """
    request = _parse_request(body, content_type, ExportTraceServiceRequest())
    protobuf = body if _media_type(content_type) in _PROTOBUF_MEDIA else request.SerializeToString()
    suspects = _suspect_counts(request, protobuf, max_count)
    rejections = _Rejections()
    valid = ordinal = 0
    for resource_spans in request.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                problem = _span_problem(span)
                if problem:
                    rejections.add(f"span {span.name!r}: {problem}")
                else:
                    valid += 1
                    if ordinal in suspects:
                        _note_refused_counts(span.name, suspects[ordinal], max_count, rejections)
                ordinal += 1
    return CheckedTraces(protobuf, valid, rejections.count, rejections.reasons)


def decode_checked_traces(checked: CheckedTraces) -> DecodedTraces:
    """The spans of a body `check_traces` accepted, read by the native decoder (collector/_otlp.c).

    Only checked bodies go this way: upb has already said they are valid protobuf, so the native
    reader never decides what is refused. It yields what `decode_traces` yields (tests hold the
    two equal) at a fifth of the cost; whatever it declines, the reference reads instead.
    """
    if _otlp is not None:
        try:
            spans, rejected, reasons = _otlp.decode_traces(checked.body)
            return DecodedTraces(spans, rejected, reasons)
        except ValueError:
            pass
    return decode_traces(checked.body, PROTOBUF_CONTENT_TYPE)


def decode_logs(body: bytes, content_type: str) -> DecodedLogs:
    """Decode an (already decompressed) ExportLogsServiceRequest body; GenAI events come this way."""
    request = _parse_request(body, content_type, ExportLogsServiceRequest())
    return _logs_from_request(request)


def validate_metrics(body: bytes, content_type: str) -> int:
    """Check a metrics body decodes and count its data points; metrics are acknowledged, not stored."""
    request = _parse_request(body, content_type, ExportMetricsServiceRequest())
    return sum(
        _count_points(metric)
        for resource_metrics in request.resource_metrics
        for scope_metrics in resource_metrics.scope_metrics
        for metric in scope_metrics.metrics
    )


_ENCODINGS = frozenset({"identity", "gzip", "x-gzip", "deflate"})


def decompress_body(body: bytes, encoding: str | None, limit: int) -> bytes:
    """Undo Content-Encoding, refusing more than `limit` decompressed bytes.

    The limit is enforced while inflating (bounded `max_length` steps), so a small gzip bomb
    never gets to allocate its full expansion.
    """
    name = (encoding or "identity").strip().lower()
    if name == "identity" or (not body and name in _ENCODINGS):  # no body is an empty request, however labelled
        return _check_size(body, limit)
    if name in ("gzip", "x-gzip"):
        return _inflate(body, _GZIP_WBITS, limit)
    if name == "deflate":
        return _inflate_deflate(body, limit)
    raise UnsupportedMediaType(
        f"Content-Encoding {encoding!r} is not supported; send the body uncompressed, or with gzip or deflate."
    )


def response_content_type(request_content_type: str | None) -> str:
    """OTLP/HTTP answers in the encoding of the request; anything unreadable gets protobuf."""
    return JSON_CONTENT_TYPE if _is_json(request_content_type) else PROTOBUF_CONTENT_TYPE


def encode_trace_response(rejected: int, message: str, content_type: str | None) -> bytes:
    """ExportTraceServiceResponse, with partial_success when spans were refused."""
    response = ExportTraceServiceResponse()
    return _encode_partial(response, "rejected_spans", rejected, message, content_type)


def encode_logs_response(rejected: int, message: str, content_type: str | None) -> bytes:
    """ExportLogsServiceResponse, with partial_success when log records were refused."""
    response = ExportLogsServiceResponse()
    return _encode_partial(response, "rejected_log_records", rejected, message, content_type)


def encode_metrics_response(rejected: int, message: str, content_type: str | None) -> bytes:
    """ExportMetricsServiceResponse, with partial_success when data points were refused."""
    response = ExportMetricsServiceResponse()
    return _encode_partial(response, "rejected_data_points", rejected, message, content_type)


def encode_status(code: int, message: str, content_type: str | None) -> bytes:
    """google.rpc.Status body for 4xx/5xx answers, as OTLP/HTTP requires; `code` is a
    google.rpc.Code (see GRPC_CODE_BY_HTTP_STATUS)."""
    return _encode_message(Status(code=code, message=message), content_type)


# --- parsing -----------------------------------------------------------------------------


def _media_type(content_type: str | None) -> str:
    """`application/json; charset=utf-8` → `application/json`."""
    return (content_type or "").partition(";")[0].strip().lower()


def _is_json(content_type: str | None) -> bool:
    return _media_type(content_type) == JSON_CONTENT_TYPE


def _parse_request(body: bytes, content_type: str | None, message: M) -> M:
    media = _media_type(content_type)
    if media in _PROTOBUF_MEDIA:
        return _parse_protobuf(body, message)
    if media == JSON_CONTENT_TYPE:
        return _parse_json(body, message)
    raise UnsupportedMediaType(
        f"Content-Type {content_type!r} is not supported; send application/x-protobuf or "
        "application/json (set OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf or http/json)."
    )


def _parse_protobuf(body: bytes, message: M) -> M:
    try:
        message.ParseFromString(body)
    except (ProtobufDecodeError, ValueError) as exc:
        raise DecodeError(
            f"Body is not a valid protobuf {message.DESCRIPTOR.name} ({exc}); check that the "
            "exporter speaks OTLP/HTTP and that Content-Type and Content-Encoding match the body."
        ) from exc
    return message


def _parse_json(body: bytes, message: M) -> M:
    try:
        document = json.loads(body)
        if not isinstance(document, dict):
            raise ValueError("top level must be a JSON object")
        _hex_ids_to_base64(document)
        json_format.ParseDict(document, message, ignore_unknown_fields=True)
    except (json_format.ParseError, ValueError, TypeError, RecursionError) as exc:
        raise DecodeError(
            f"Body is not valid OTLP/JSON for {message.DESCRIPTOR.name} ({exc}); see "
            "https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding (ids are hex strings)."
        ) from exc
    return message


def _hex_ids_to_base64(node: Any) -> None:
    """OTLP/JSON writes trace and span ids as hex, unlike proto3 JSON's base64 bytes.

    Every OTLP field with one of these names is such an id (spans, links, log records,
    exemplars), and attribute keys live in `"key"` values, never as JSON keys, so a walk
    over the whole document is safe.
    """
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _ID_KEYS and isinstance(value, str):
                node[key] = _hex_to_base64(value)
            elif isinstance(value, dict | list):
                _hex_ids_to_base64(value)
    elif isinstance(node, list):
        for item in node:
            if isinstance(item, dict | list):
                _hex_ids_to_base64(item)


def _hex_to_base64(value: str) -> str:
    """Non-hex ids become a 1-byte id, so the span is rejected by the length check instead of
    failing the whole request."""
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raw = b"\x00"
    return base64.b64encode(raw).decode("ascii")


# --- protobuf → records (hot path) ---------------------------------------------------------


def _spans_from_request(request: ExportTraceServiceRequest) -> DecodedTraces:
    spans: list[RawSpan] = []
    rejections = _Rejections()
    append = spans.append
    for resource_spans in request.resource_spans:
        resource = _attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            scope = scope_spans.scope
            scope_name, scope_version = scope.name, scope.version
            for span in scope_spans.spans:
                problem = _span_problem(span)
                if problem:
                    rejections.add(f"span {span.name!r}: {problem}")
                else:
                    append(_raw_span(span, resource, scope_name, scope_version))
    return DecodedTraces(spans, rejections.count, rejections.reasons)


def _suspect_counts(request: Any, protobuf: bytes, max_count: int) -> dict[int, dict[str, Any]]:
    """Span ordinal → its count and cost attributes that may be refused. The C scan (~0.5 µs a span) leaves
    out the values that are plainly fine; the reference here (~8 µs) keeps them, to the same end."""
    if _otlp is not None and hasattr(_otlp, "suspect_counts"):
        try:
            found = _otlp.suspect_counts(protobuf, max_count, float(MAX_REPORTED_COST))
        except ValueError:
            pass
        else:
            suspects: dict[int, dict[str, Any]] = {}
            for ordinal, key, value in found:
                suspects.setdefault(ordinal, {})[key] = value
            return suspects
    return _count_attributes(request)


def _count_attributes(request: Any) -> dict[int, dict[str, Any]]:
    spans = (span for resource_spans in request.resource_spans
             for scope_spans in resource_spans.scope_spans for span in scope_spans.spans)
    found = ({kv.key: _any_value(kv.value) for kv in span.attributes if kv.key in CHECKED_KEYS} for span in spans)
    return {ordinal: counts for ordinal, counts in enumerate(found) if counts}


def _note_refused_counts(name: str, counts: dict[str, Any], max_count: int, rejections: _Rejections) -> None:
    for reason in span_refusals(counts, counts, max_count):
        rejections.note(f"span {name!r}: {reason}; the span is kept without it")


def _span_problem(span: Any) -> str | None:
    """Why a span cannot be stored (collector/_otlp.c's `span_problem` says the same), or None."""
    problem = _span_id_problem(span.trace_id, span.span_id, span.parent_span_id)
    if problem:
        return problem
    if span.start_time_unix_nano >= _END_OF_STORAGE_NS:
        return _TIME_PROBLEM.format("start_time_unix_nano")
    if span.end_time_unix_nano >= _END_OF_STORAGE_NS:
        return _TIME_PROBLEM.format("end_time_unix_nano")
    return None


def _span_id_problem(trace_id: bytes, span_id: bytes, parent_span_id: bytes) -> str | None:
    if len(trace_id) != 16 or trace_id == _ZERO_TRACE_ID:
        return "trace_id must be 16 bytes (32 hex characters) and not all zero"
    if len(span_id) != 8 or span_id == _ZERO_SPAN_ID:
        return "span_id must be 8 bytes (16 hex characters) and not all zero"
    if len(parent_span_id) not in (0, 8):
        return "parent_span_id must be empty or 8 bytes (16 hex characters)"
    return None


def _raw_span(span: Any, resource: dict[str, Any], scope_name: str, scope_version: str) -> RawSpan:
    """`resource` is shared by all spans of one ResourceSpans: treat it as read-only."""
    status = span.status
    events = span.events
    links = span.links
    return RawSpan(
        span.trace_id.hex(),
        span.span_id.hex(),
        span.parent_span_id.hex(),
        span.name,
        span.kind,
        span.start_time_unix_nano,
        span.end_time_unix_nano,
        status.code,
        status.message,
        _attributes(span.attributes),
        resource,
        scope_name,
        scope_version,
        tuple([_span_event(event) for event in events]) if events else (),
        tuple([_span_link(link) for link in links]) if links else (),
    )


def _span_event(event: Any) -> SpanEvent:
    return SpanEvent(event.name, event.time_unix_nano, _attributes(event.attributes))


def _span_link(link: Any) -> SpanLink:
    return SpanLink(link.trace_id.hex(), link.span_id.hex(), _attributes(link.attributes))


def _logs_from_request(request: ExportLogsServiceRequest) -> DecodedLogs:
    records: list[RawLogRecord] = []
    rejections = _Rejections()
    for resource_logs in request.resource_logs:
        resource = _attributes(resource_logs.resource.attributes)
        for scope_logs in resource_logs.scope_logs:
            scope_name = scope_logs.scope.name
            for record in scope_logs.log_records:
                problem = _log_problem(record)
                if problem:
                    rejections.add(f"log record: {problem}")
                else:
                    records.append(_raw_log(record, resource, scope_name))
    return DecodedLogs(records, rejections.count, rejections.reasons)


def _log_problem(record: Any) -> str | None:
    """Why a log record cannot be stored, or None: its ids, or a time past what storage holds."""
    if (record.time_unix_nano or record.observed_time_unix_nano) >= _END_OF_STORAGE_NS:
        return _TIME_PROBLEM.format("time_unix_nano")
    return _log_id_problem(record.trace_id, record.span_id)


def _log_id_problem(trace_id: bytes, span_id: bytes) -> str | None:
    """Log records need not belong to a span, so empty ids are fine; malformed ones are not."""
    if len(trace_id) not in (0, 16):
        return "trace_id must be empty or 16 bytes (32 hex characters)"
    if len(span_id) not in (0, 8):
        return "span_id must be empty or 8 bytes (16 hex characters)"
    return None


def _raw_log(record: Any, resource: dict[str, Any], scope_name: str) -> RawLogRecord:
    attributes = _attributes(record.attributes)
    return RawLogRecord(
        trace_id=record.trace_id.hex(),
        span_id=record.span_id.hex(),
        time_ns=record.time_unix_nano or record.observed_time_unix_nano,
        event_name=_event_name(record, attributes),
        body=_any_value(record.body) if record.HasField("body") else None,
        attributes=attributes,
        resource=resource,
        scope_name=scope_name,
    )


def _event_name(record: Any, attributes: dict[str, Any]) -> str:
    """Newer protos carry `event_name`; older SDKs put it in the `event.name` attribute."""
    name = getattr(record, "event_name", "")
    if name:
        return name
    legacy = attributes.get("event.name")
    return legacy if isinstance(legacy, str) else ("" if legacy is None else str(legacy))


def _attributes(key_values: Iterable[Any]) -> dict[str, Any]:
    """Strings are most attribute values, so they skip the `_any_value` call (hot loop)."""
    out = {}
    for kv in key_values:
        value = kv.value
        kind = value.WhichOneof("value")
        out[kv.key] = value.string_value if kind == "string_value" else _convert_value(value, kind)
    return out


def _any_value(value: Any) -> Any:
    """AnyValue → str, bool, int, float, list, dict, base64 str (bytes) or None (unset)."""
    kind = value.WhichOneof("value")
    return value.string_value if kind == "string_value" else _convert_value(value, kind)


def _convert_value(value: Any, kind: str | None) -> Any:
    if kind is None:
        return None
    if kind == "array_value":
        return [_any_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return _attributes(value.kvlist_value.values)
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode("ascii")
    return getattr(value, kind)


def _count_points(metric: Any) -> int:
    kind = metric.WhichOneof("data")
    return len(getattr(metric, kind).data_points) if kind else 0


def _rejection_message(rejected: int, noun: str, reasons: list[str]) -> str:
    if not rejected:
        return ""
    return f"{rejected} {noun} rejected: " + "; ".join(reasons)


# --- compression and responses --------------------------------------------------------------


def _check_size(body: bytes, limit: int) -> bytes:
    if len(body) > limit:
        raise _too_large(limit)
    return body


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"Request body exceeds {limit} bytes after decompression; lower the exporter's batch size "
        "(OTEL_BSP_MAX_EXPORT_BATCH_SIZE) or raise the collector's body limit."
    )


def _inflate_deflate(body: bytes, limit: int) -> bytes:
    """HTTP `deflate` should be zlib-wrapped, but some clients send raw deflate; accept both."""
    try:
        return _inflate(body, zlib.MAX_WBITS, limit)
    except DecodeError:
        return _inflate(body, -zlib.MAX_WBITS, limit)


def _inflate(body: bytes, wbits: int, limit: int) -> bytes:
    out = bytearray()
    try:
        data = _inflate_member(zlib.decompressobj(wbits), body, out, limit)
        while data:  # gzip members may be concatenated
            data = _inflate_member(zlib.decompressobj(wbits), data, out, limit)
    except zlib.error as exc:
        raise DecodeError(
            f"Body is not valid compressed data ({exc}); check that Content-Encoding matches the body."
        ) from exc
    return bytes(out)


def _inflate_member(inflater: Any, data: bytes, out: bytearray, limit: int) -> bytes:
    """Inflate one stream into `out` in steps of at most limit+1 bytes; return trailing input."""
    while not inflater.eof:
        chunk = inflater.decompress(data, limit + 1 - len(out))
        out += chunk
        if len(out) > limit:
            raise _too_large(limit)
        data = inflater.unconsumed_tail
        if not chunk and not data and not inflater.eof:  # a stream may end having made no bytes at all
            raise DecodeError("Compressed body is truncated; the exporter must send the complete stream.")
    return inflater.unused_data


def _encode_partial(
    response: Any, counter: str, rejected: int, message: str, content_type: str | None
) -> bytes:
    """An empty response means full success; partial_success only when something was refused
    (or there is a warning to pass on, which the spec allows with rejected = 0)."""
    if rejected or message:
        setattr(response.partial_success, counter, rejected)
        response.partial_success.error_message = message
    return _encode_message(response, content_type)


def _encode_message(message: Message, content_type: str | None) -> bytes:
    if _is_json(content_type):
        return json.dumps(json_format.MessageToDict(message), separators=(",", ":")).encode()
    return message.SerializeToString()

