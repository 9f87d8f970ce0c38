"""OTLP payloads into records: request bytes in, `RawSpan`/`RawLogRecord` records out.

Reading the bytes is `collector.wire`'s (protobuf and OTLP/JSON share one path), what refuses a
span or log record is `collector.check`'s, and the HTTP side (compression, media types,
responses) is `collector.transport`'s. The protobuf→record conversion here is the reference
for the native reader (collector/_otlp.c) and is written for speed: no `json_format`, one
`WhichOneof` per AnyValue.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from collector.check import CheckedTraces, Rejections, log_problem, span_problem
from collector.transport import PROTOBUF_CONTENT_TYPE
from collector.wire import native as _otlp
from collector.wire import parse_request, read_attributes, read_value
from schemas.records import RawLogRecord, RawSpan, SpanEvent, SpanLink


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


# --- public API --------------------------------------------------------------------------


def decode_traces(body: bytes, content_type: str) -> DecodedTraces:
    """Decode an (already decompressed) ExportTraceServiceRequest body."""
    request = parse_request(body, content_type, ExportTraceServiceRequest())
    return _spans_from_request(request)


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
    request = parse_request(body, content_type, ExportLogsServiceRequest())
    return _logs_from_request(request)


# --- protobuf → records (hot path) ---------------------------------------------------------


def _spans_from_request(request: ExportTraceServiceRequest) -> DecodedTraces:
    spans: list[RawSpan] = []
    rejections = Rejections()
    append = spans.append
    for resource_spans in request.resource_spans:
        resource = read_attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            scope = scope_spans.scope
            scope_name, scope_version = scope.name, scope.version
            for span in scope_spans.spans:
                problem = span_problem(span)
                if problem:
                    rejections.add(f"span {span.name!r}: {problem}")
                else:
                    append(_raw_span(span, resource, scope_name, scope_version))
    return DecodedTraces(spans, rejections.count, rejections.reasons)


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
        read_attributes(span.attributes),
        resource,
        scope_name,
        scope_version,
        tuple([_span_event(event) for event in events]) if events else (),
        tuple([_span_link(link) for link in links]) if links else (),
    )


def _span_event(event: Any) -> SpanEvent:
    return SpanEvent(event.name, event.time_unix_nano, read_attributes(event.attributes))


def _span_link(link: Any) -> SpanLink:
    return SpanLink(link.trace_id.hex(), link.span_id.hex(), read_attributes(link.attributes))


def _logs_from_request(request: ExportLogsServiceRequest) -> DecodedLogs:
    records: list[RawLogRecord] = []
    rejections = Rejections()
    for resource_logs in request.resource_logs:
        resource = read_attributes(resource_logs.resource.attributes)
        for scope_logs in resource_logs.scope_logs:
            scope_name = scope_logs.scope.name
            for record in scope_logs.log_records:
                problem = log_problem(record)
                if problem:
                    rejections.add(f"log record: {problem}")
                else:
                    records.append(_raw_log(record, resource, scope_name))
    return DecodedLogs(records, rejections.count, rejections.reasons)


def _raw_log(record: Any, resource: dict[str, Any], scope_name: str) -> RawLogRecord:
    attributes = read_attributes(record.attributes)
    return RawLogRecord(
        trace_id=record.trace_id.hex(),
        span_id=record.span_id.hex(),
        time_ns=record.time_unix_nano or record.observed_time_unix_nano,
        event_name=_event_name(record, attributes),
        body=read_value(record.body) if record.HasField("body") else None,
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


def _rejection_message(rejected: int, noun: str, reasons: list[str]) -> str:
    if not rejected:
        return ""
    return f"{rejected} {noun} rejected: " + "; ".join(reasons)
