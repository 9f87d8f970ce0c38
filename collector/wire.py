"""Reading OTLP bytes: protobuf or OTLP/JSON into protobuf messages, and AnyValues into Python.

Both encodings share one path: OTLP/JSON is first turned into the same protobuf message
(after rewriting its hex ids, which `json_format` would misread as base64), so protobuf and
JSON payloads cannot drift apart in what they yield. The native reader (collector/_otlp.c),
when installed, is loaded and configured here once for `check` and `decode`.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from typing import Any, TypeVar

from google.protobuf import json_format
from google.protobuf.message import DecodeError as ProtobufDecodeError
from google.protobuf.message import Message

from collector.counts import CHECKED_KEYS, COST_KEYS
from collector.errors import DecodeError
from collector.transport import JSON_CONTENT_TYPE, media_type
from schemas.records import RawSpan, SpanEvent, SpanLink

native: Any
try:  # compiled by the install (setup.py); without it the reference readers do the work
    from collector import _otlp as native
except ImportError:  # pragma: no cover - a source checkout that was never installed
    native = None
else:
    native.configure(RawSpan, SpanEvent, SpanLink)
    if hasattr(native, "configure_counts"):  # a build older than the count check lacks it
        native.configure_counts(tuple((key.encode(), key in COST_KEYS) for key in sorted(CHECKED_KEYS)))

_ID_KEYS = frozenset({"traceId", "trace_id", "spanId", "span_id", "parentSpanId", "parent_span_id"})

M = TypeVar("M", bound=Message)


def parse_request(body: bytes, content_type: str | None, message: M) -> M:
    """Fill `message` from an (already decompressed) body of the given Content-Type."""
    if media_type(content_type) == JSON_CONTENT_TYPE:
        return _parse_json(body, message)
    return _parse_protobuf(body, message)


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


# --- AnyValue → Python (hot path of the reference decoder) ---------------------------------


def read_attributes(key_values: Iterable[Any]) -> dict[str, Any]:
    """Strings are most attribute values, so they skip the `read_value` call (hot loop)."""
    out = {}
    for kv in key_values:
        value = kv.value
        kind = value.WhichOneof("value")
        out[kv.key] = value.string_value if kind == "string_value" else _convert_value(value, kind)
    return out


def read_value(value: Any) -> Any:
    """AnyValue → str, bool, int, float, list, dict, base64 str (bytes) or None (unset)."""
    kind = value.WhichOneof("value")
    return value.string_value if kind == "string_value" else _convert_value(value, kind)


def _convert_value(value: Any, kind: str | None) -> Any:
    if kind is None:
        return None
    if kind == "array_value":
        return [read_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return read_attributes(value.kvlist_value.values)
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode("ascii")
    return getattr(value, kind)
