"""The checks a request passes before it is acknowledged: which spans can be stored at all,
and which of their token counts and costs are refused.

Checking only parses (in C) and looks at ids, times and counts, so the ack does not wait for
the much costlier conversion of every attribute (`collector.decode`, later, off the request
path). The same rules refuse spans and log records when they are decoded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from collector.counts import CHECKED_KEYS, DEFAULT_MAX_COUNT, MAX_REPORTED_COST, span_refusals
from collector.transport import PROTOBUF_CONTENT_TYPE, media_type
from collector.wire import native as _otlp
from collector.wire import parse_request, read_value

_MAX_REASONS = 5
_ZERO_TRACE_ID = bytes(16)
_ZERO_SPAN_ID = bytes(8)
# 2300-01-01T00:00:00Z in ns: DateTime64(6) holds 1900-2299, and a later time would be stored as
# some other one (2^64-1 ns became 2554), then never listed. Earlier ones cannot be sent (uint64).
_END_OF_STORAGE_NS = 10_413_792_000_000_000_000
_TIME_PROBLEM = "{} is after 2299-12-31, the last day storage holds; send the time in Unix nanoseconds"


class Rejections:
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


@dataclass(frozen=True, slots=True)
class CheckedTraces:
    """What the edge needs before acknowledging: the body as protobuf and its valid span count.

    Checking only parses (in C) and looks at ids, so the ack does not wait for the much costlier
    conversion of every attribute; `decode.decode_checked_traces` does that later.
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
    request = parse_request(body, content_type, ExportTraceServiceRequest())
    protobuf = body if media_type(content_type) == PROTOBUF_CONTENT_TYPE else request.SerializeToString()
    suspects = _suspect_counts(request, protobuf, max_count)
    rejections = Rejections()
    valid = ordinal = 0
    for resource_spans in request.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                problem = span_problem(span)
                if problem:
                    rejections.add(f"span {span.name!r}: {problem}")
                else:
                    valid += 1
                    if ordinal in suspects:
                        _note_refused_counts(span.name, suspects[ordinal], max_count, rejections)
                ordinal += 1
    return CheckedTraces(protobuf, valid, rejections.count, rejections.reasons)


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
    found = ({kv.key: read_value(kv.value) for kv in span.attributes if kv.key in CHECKED_KEYS} for span in spans)
    return {ordinal: counts for ordinal, counts in enumerate(found) if counts}


def _note_refused_counts(name: str, counts: dict[str, Any], max_count: int, rejections: Rejections) -> None:
    for reason in span_refusals(counts, counts, max_count):
        rejections.note(f"span {name!r}: {reason}; the span is kept without it")


def span_problem(span: Any) -> str | None:
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


def log_problem(record: Any) -> str | None:
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
