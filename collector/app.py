"""The OTLP/HTTP edge: a Flask app that maps requests to the pipeline and errors to responses.

It follows the OTLP/HTTP specification: protobuf or JSON in, the response in the request's
encoding, `partial_success` when some items were rejected, a google.rpc.Status body on errors,
Retry-After on 503 so exporters back off.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from collector.auth import KeyAuth
from collector.errors import ForeignOrigin, IngestError, MisdirectedHost, PayloadTooLarge, Retryable
from collector.ingest_stats import IngestStats
from collector.pipeline import SIGNAL_LOGS, SIGNAL_METRICS, SIGNAL_TRACES, IngestPipeline
from collector.transport import (
    GRPC_CODE_BY_HTTP_STATUS,
    answer_media_type,
    encode_logs_response,
    encode_metrics_response,
    encode_status,
    encode_trace_response,
)
from schemas.health import add_health_routes
from schemas.hosts import EXEMPT_PATHS, HostPolicy, hostname, is_foreign_origin

log = logging.getLogger(__name__)

# Langfuse's exporter posts to its own path; accepting it lets such apps switch by URL alone.
ENCODERS = {
    SIGNAL_TRACES: encode_trace_response,
    SIGNAL_LOGS: encode_logs_response,
    SIGNAL_METRICS: encode_metrics_response,
}
ROUTES = {
    "/v1/traces": SIGNAL_TRACES,
    "/api/public/otel/v1/traces": SIGNAL_TRACES,
    "/v1/logs": SIGNAL_LOGS,
    "/v1/metrics": SIGNAL_METRICS,
}


def create_collector_app(pipeline: IngestPipeline, auth: KeyAuth, ready: Callable[[], bool],
                         max_body_bytes: int, concurrency: int = 2, hosts: HostPolicy | None = None,
                         health: Callable[[], dict[str, Any]] = dict, stats: IngestStats | None = None) -> Flask:
    """`concurrency` bounds the requests read and decoded at once (their memory, not the queue's);
    `hosts` the Host names served (schemas.hosts: loopback names only when bound to loopback);
    `health` adds facts to /readyz's JSON (rows in the dead letter); `stats` counts answers,
    refusals and spans for /metrics (collector.ingest_stats)."""
    app = Flask("llmpulse.collector")
    decoding = threading.BoundedSemaphore(concurrency)
    stats = stats or IngestStats()
    if hosts is not None:
        app.before_request(lambda: _check_browser_request(hosts, stats))
    app.after_request(lambda response: _count_answer(stats, response))

    def handle(signal: str) -> Response:
        media = _response_media()
        try:
            _check_length(max_body_bytes)
            sender = auth.sender_for(request.headers)
            with decoding:
                result = pipeline.accept(
                    sender.project, signal, request.content_type, request.headers.get("Content-Encoding"),
                    request.get_data(cache=False), ingest_key=sender.key_id,
                )
        except IngestError as exc:
            stats.refused(exc)
            return error_response(exc, media)
        stats.accepted(signal, result.accepted, result.rejected, result.skipped)
        body = ENCODERS[signal](result.rejected, result.message, media)
        return Response(body, status=200, content_type=media)

    for path, signal in ROUTES.items():
        app.add_url_rule(path, f"ingest_{path}", lambda signal=signal: handle(signal), methods=["POST"])
    add_health_routes(app, ready, health)
    app.register_error_handler(HTTPException, http_error_response)
    return app


def _count_answer(stats: IngestStats, response: Response) -> Response:
    """Every answer but the health checks', by signal and status: 503s are backpressure."""
    if request.path not in EXEMPT_PATHS:
        stats.answered(ROUTES.get(request.path, "other"), response.status_code)
    return response


def _check_browser_request(hosts: HostPolicy, stats: IngestStats) -> Response | None:
    """Exporters name the collector by the address they connect to and send no Origin; a browser
    page does. Bound to loopback no key protects ingest, so a page whose name re-points at
    127.0.0.1 (DNS rebinding) is refused by its Host, any other page by its Origin. Health
    checks are exempt."""
    if request.path in EXEMPT_PATHS:
        return None
    if not hosts.allows_host(request.host):
        log.warning("refused an OTLP request for host %r from %s", request.host, request.remote_addr)
        refused: IngestError = MisdirectedHost(f"this collector does not answer for the host "
                                               f"{hostname(request.host)!r}; send to 127.0.0.1 or localhost")
    elif is_foreign_origin(request.headers.get("Origin"), request.host):
        refused = ForeignOrigin("cross-origin request refused: the collector takes no spans from "
                                "browser pages of other origins")
    else:
        return None
    stats.refused(refused)
    return error_response(refused, _response_media())


def http_error_response(exc: HTTPException) -> Response:
    """A wrong path or method is answered like every other OTLP error: a google.rpc.Status body."""
    status = exc.code or 500
    message = f"{exc.name}: {request.method} {request.path}; OTLP/HTTP is POST to {', '.join(ROUTES)}"
    media = _response_media()
    code = GRPC_CODE_BY_HTTP_STATUS.get(status, 2)
    response = Response(encode_status(code, message, media), status=status, content_type=media)
    for name, value in exc.get_headers():
        if name.lower() == "allow":
            response.headers[name] = value
    return response


def _response_media() -> str:
    """Answers go in the request's encoding (collector.transport)."""
    return answer_media_type(request.content_type)


def _check_length(limit: int) -> None:
    length = request.content_length
    if length is not None and length > limit:
        raise PayloadTooLarge(
            f"request body of {length} bytes exceeds the {limit}-byte limit; "
            "lower the exporter's batch size (OTEL_BSP_MAX_EXPORT_BATCH_SIZE)"
        )


def error_response(exc: IngestError, media: str) -> Response:
    if exc.status >= 500:
        log.warning("ingest refused with %d: %s", exc.status, exc.message)
    code = GRPC_CODE_BY_HTTP_STATUS.get(exc.status, 2)  # 2: UNKNOWN
    response = Response(encode_status(code, exc.message, media), status=exc.status, content_type=media)
    if isinstance(exc, Retryable):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response
