"""How and where a call ran, and what it said: the timing, context and content columns of a span.

Attribute maps, events and links are kept as clipped strings and JSON; chat content is read by
`collector.messages`. Cost columns are left empty for pricing to fill.
"""

from __future__ import annotations

import math
from typing import Any

from collector.coerce import (
    as_bool,
    as_float,
    as_ns,
    as_str_list,
    as_text,
    clip,
    dumps,
    ns_or_zero,
)
from collector.counts import read_cost
from collector.reader import Reader
from schemas import conventions as cv
from schemas import fields as f
from schemas.shadow_fields import SHADOW_OF_ATTRIBUTE, SPAN_ID_LENGTH

# A span is read untyped (see `collector.normalize`).
AnySpan = Any

_BOOL_TEXT = {True: "true", False: "false"}


def timing_columns(span: AnySpan, reader: Reader, name: str) -> dict[str, Any]:
    streaming = reader.value(cv.STREAM, as_bool)
    if streaming is None and _vercel_operation(name, reader.attrs) in cv.STREAMING_SPAN_NAMES:
        streaming = True
    ttft = _ttft_ms(span, reader, bool(streaming))
    # No stream flag: a first-token time is itself the evidence that the call streamed.
    return {f.TTFT_MS: ttft, f.STREAMING: streaming if streaming is not None else ttft is not None}


def _vercel_operation(name: str, attrs: dict[str, Any]) -> str:
    """The Vercel AI SDK's operation id: ai.operationId, else the first word of operation.name
    (older SDKs, renamed spans), else the span name; lower-cased."""
    for key in cv.VERCEL_OPERATION_KEYS:
        value = attrs.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip().partition(" ")[0].lower()
    return name.lower()


def _ttft_ms(span: AnySpan, reader: Reader, streaming: bool) -> float | None:
    """TTFT from an attribute (scaled to ms), a first-token timestamp, or a first-chunk event."""
    value, source = reader.first(f.TTFT_MS, as_float, streaming)
    if source is not None:
        return value * source.scale if value >= 0 else None
    start = ns_or_zero(span.start_ns)
    first_ns = reader.value(cv.FIRST_TOKEN_TIME, as_ns) or _first_token_event(span.events)
    if first_ns is None or not start or first_ns < start:
        return None
    return (first_ns - start) / 1e6


def _first_token_event(events: Any) -> int | None:
    times = [e.time_ns for e in events if e.name in cv.FIRST_TOKEN_EVENTS and type(e.time_ns) is int]
    return min(times) if times else None


def context_columns(span: AnySpan, reader: Reader, max_chars: int) -> dict[str, Any]:
    resource = span.resource if isinstance(span.resource, dict) else {}
    service, environment, resource_map = _resource_columns(resource, max_chars)
    if not service or service.startswith(cv.UNKNOWN_SERVICE_PREFIX):  # the SDK default: the span may know better
        service = reader.value(f.SERVICE_NAME, as_text) or service
    return {
        f.SERVICE_NAME: service,
        f.ENVIRONMENT: environment or reader.value(f.ENVIRONMENT, as_text, ""),
        f.ERROR_TYPE: reader.value(f.ERROR_TYPE, as_text) or _exception_type(span.events),
        f.CACHE_HIT: reader.value(f.CACHE_HIT, as_bool, False),
        **dict.fromkeys(f.COST_FIELDS), **dict.fromkeys(f.AUDIO_COST_FIELDS), f.COST_SOURCE: f.SOURCE_NONE,
        f.COST_REPORTED: reader.value(f.COST_REPORTED, read_cost),
        f.COST_COMPUTED: None,
        f.USER_ID: reader.value(f.USER_ID, as_text, ""),
        f.SESSION_ID: reader.value(f.SESSION_ID, as_text, ""),
        f.TAGS: reader.value(f.TAGS, as_str_list, []),
        f.ATTRIBUTES: _string_map(reader.attrs, max_chars),
        f.RESOURCE_ATTRIBUTES: resource_map,
        f.EVENTS: _events_json(span.events, max_chars),
        f.LINKS: _links_json(span.links, max_chars),
    }


def _resource_columns(resource: dict[str, Any], max_chars: int) -> tuple[str, str, dict[str, str]]:
    """(service name, environment, string map) of a resource.

    The decoder shares one resource dict among all the spans of a ResourceSpans, so the last
    result is reused; the map is copied because a row may be edited downstream (redaction).
    """
    global _last_resource
    cached, chars, columns = _last_resource
    if cached is not resource or chars != max_chars:
        service, environment = _from_resource(resource, f.SERVICE_NAME), _from_resource(resource, f.ENVIRONMENT)
        columns = (service, environment, _string_map(resource, max_chars))
        _last_resource = (resource, max_chars, columns)
    return columns[0], columns[1], dict(columns[2])


_last_resource: tuple[Any, int, tuple[str, str, dict[str, str]]] = (None, 0, ("", "", {}))


def _from_resource(resource: dict[str, Any], field: str) -> str:
    return next((text for key in cv.RESOURCE_SOURCES[field] if (text := as_text(resource.get(key)))), "")


def _exception_type(events: Any) -> str:
    for event in events:
        if event.name == cv.EXCEPTION_EVENT and (found := as_text(event.attributes.get(cv.EXCEPTION_TYPE))):
            return found
    return ""


def _string_map(values: dict[Any, Any], max_chars: int) -> dict[str, str]:
    """Every attribute kept: strings clipped, anything else JSON-encoded (then clipped)."""
    out = {}
    for key, value in values.items():
        kind = type(value)
        if kind is str:
            text = value
        elif kind is int or (kind is float and math.isfinite(value)):
            text = repr(value)  # what JSON would write, without the encoder's per-call cost
        elif kind is float:
            text = _non_finite_text(value)
        else:
            text = _BOOL_TEXT[value] if kind is bool else dumps(value)
        out[key if type(key) is str else str(key)] = text if len(text) <= max_chars else clip(text, max_chars)
    return out


def _non_finite_text(value: float) -> str:
    """A NaN or infinite attribute as proto3 JSON spells it (JSON itself has no spelling for them)."""
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def _clip_values(values: dict[str, Any], max_chars: int) -> dict[str, Any]:
    return {str(k): clip(v, max_chars) if isinstance(v, str) else v for k, v in values.items()}


def _events_json(events: Any, max_chars: int) -> str:
    if not events:
        return "[]"
    return dumps([
        {"name": e.name, "time_unix_nano": e.time_ns, "attributes": _clip_values(e.attributes, max_chars)}
        for e in events
    ])


def _links_json(links: Any, max_chars: int) -> str:
    if not links:
        return "[]"
    return dumps([
        {"trace_id": k.trace_id, "span_id": k.span_id, "attributes": _clip_values(k.attributes, max_chars)}
        for k in links
    ])


def content_columns(reader: Reader, inputs: list[dict[str, Any]], outputs: list[dict[str, Any]],
                    documents: list[dict[str, Any]]) -> dict[str, Any]:
    """The content columns of a span's messages and documents (`collector.messages.span_content`)."""
    return {
        f.INPUT_MESSAGES: dumps(inputs) if inputs else "",
        f.OUTPUT_MESSAGES: dumps(outputs) if outputs else "",
        f.RETRIEVAL_DOCUMENTS: dumps(documents) if documents else "",
        f.FINISH_REASONS: _finish_reasons(reader, outputs),
    }


def _finish_reasons(reader: Reader, outputs: list[dict[str, Any]]) -> list[str]:
    """Reported finish reasons, else the ones the output messages carry (openai-v2 streaming)."""
    reported = reader.value(f.FINISH_REASONS, as_str_list)
    return reported or [m["finish_reason"] for m in outputs if "finish_reason" in m]


_HEX = frozenset("0123456789abcdef")


def shadow_of(attrs: dict[str, Any], span_id: str) -> tuple[str, str]:
    """(the primary's span id, '') for a shadow call; ('', why) when `llmpulse.shadow_of` holds no
    span id (or the span's own); ('', '') when the span is no shadow call. Lower-cased, as span ids are."""
    value = attrs.get(SHADOW_OF_ATTRIBUTE)
    if value is None:
        return "", ""
    text = value.strip().lower() if isinstance(value, str) else ""
    if len(text) == SPAN_ID_LENGTH and set(text) <= _HEX and text != "0" * SPAN_ID_LENGTH and text != span_id:
        return text, ""
    shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
    return "", f"{SHADOW_OF_ATTRIBUTE}={shown} is not the span id of another call (16 hex characters)"
