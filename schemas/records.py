"""Convention-agnostic records passed between decoding, normalization and storage.

Decoders produce `RawSpan`/`RawLogRecord` from OTLP bytes; normalization turns a `RawSpan`
into a row (a dict keyed by the column names in `schemas.fields`). Nothing here knows
about HTTP or ClickHouse.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Attributes = dict[str, Any]


@dataclass(frozen=True, slots=True)
class SpanEvent:
    name: str
    time_ns: int
    attributes: Attributes = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SpanLink:
    trace_id: str
    span_id: str
    attributes: Attributes = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RawSpan:
    """One decoded OTLP span; ids are lowercase hex, AnyValues are plain Python values."""

    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    kind: int
    start_ns: int
    end_ns: int
    status_code: int
    status_message: str
    attributes: Attributes
    resource: Attributes
    scope_name: str
    scope_version: str
    events: tuple[SpanEvent, ...] = ()
    links: tuple[SpanLink, ...] = ()


@dataclass(frozen=True, slots=True)
class RawLogRecord:
    """One decoded OTLP log record; GenAI events arrive this way (`event_name` or `event.name`)."""

    trace_id: str
    span_id: str
    time_ns: int
    event_name: str
    body: Any
    attributes: Attributes
    resource: Attributes
    scope_name: str
