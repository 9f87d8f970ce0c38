"""The OTLP/HTTP side of the collector: media types, Content-Encoding, and the response bodies.

OTLP/HTTP carries protobuf or JSON, possibly gzip- or deflate-compressed, and answers in the
request's own encoding: an Export*ServiceResponse (with `partial_success` when items were
refused) or a google.rpc.Status on errors. All of that lives here; `collector.decode` reads
bytes into records and knows nothing of headers, compression or responses.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from collector.errors import DecodeError, PayloadTooLarge, UnsupportedMediaType

PROTOBUF_CONTENT_TYPE = "application/x-protobuf"
JSON_CONTENT_TYPE = "application/json"
# Each accepted media type → the one the readers go by (`application/protobuf` is read as protobuf).
CONTENT_TYPES = {
    "application/x-protobuf": PROTOBUF_CONTENT_TYPE,
    "application/protobuf": PROTOBUF_CONTENT_TYPE,
    "application/json": JSON_CONTENT_TYPE,
}
_ENCODINGS = frozenset({"identity", "gzip", "x-gzip", "deflate"})
_GZIP_WBITS = 16 + zlib.MAX_WBITS

# google.rpc.Code for the HTTP statuses the edge answers with (OTLP/HTTP error bodies).
GRPC_CODE_BY_HTTP_STATUS = {400: 3, 401: 16, 403: 7, 404: 5, 413: 8, 415: 3, 429: 8, 500: 13, 503: 14}


# --- media types ---------------------------------------------------------------------------


def base_media_type(content_type: str | None) -> str:
    """`application/json; charset=utf-8` → `application/json`."""
    return (content_type or "").partition(";")[0].strip().lower()


def media_type(content_type: str | None) -> str:
    """The canonical media type of a Content-Type header, or UnsupportedMediaType."""
    media = CONTENT_TYPES.get(base_media_type(content_type))
    if media is None:
        raise UnsupportedMediaType(
            f"Content-Type {content_type or '(none)'!r} is not supported; send OTLP as application/x-protobuf "
            "or application/json (set OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf or http/json)."
        )
    return media


def answer_media_type(content_type: str | None) -> str:
    """The request's own media type (`application/protobuf` is answered as such), JSON when unreadable."""
    media = base_media_type(content_type)
    return media if media in CONTENT_TYPES else JSON_CONTENT_TYPE


def _is_json(content_type: str | None) -> bool:
    return base_media_type(content_type) == JSON_CONTENT_TYPE


# --- Content-Encoding ----------------------------------------------------------------------


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


# --- responses -----------------------------------------------------------------------------


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
