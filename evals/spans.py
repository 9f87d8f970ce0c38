"""Each call the in-service runner makes, exported as an ordinary LLM span into llmpulse itself.

The span goes through llmpulse's own OTLP endpoint, exported by the real OpenTelemetry SDK, so
an experiment's tokens, cost and latency come from the same normalization and prices as
production traffic, and each result links to a trace a user can open. The resource says
`deployment.environment.name=experiment` (the attribute the normalizer reads for the environment
column), so experiment traffic can be filtered out of production views. One trace per item.

The SDK's BatchSpanProcessor neither reports failed exports nor bounds `force_flush`, so this
sink counts what the exporter delivered and flushes with a deadline of its own: `flush()` says
whether every span recorded so far reached the collector, and never hangs on a collector that
is down.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from opentelemetry import context as otel_context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind, Status, StatusCode

from evals.target import ChatReply, Target
from schemas import experiment_fields as xf

SERVICE_NAME = "llmpulse-experiments"
ENVIRONMENT = xf.EXPERIMENT_ENVIRONMENT
SCOPE_NAME = "llmpulse.evals"
# Hosts whose provider the model id would not imply (a Llama model on Groq is Groq's price).
# Elsewhere no provider is sent and normalization infers it from the model id, so gpt-4o-mini
# behind any OpenAI-compatible proxy is priced as OpenAI's.
PROVIDER_HOSTS = {
    "api.openai.com": "openai", "api.anthropic.com": "anthropic", "api.mistral.ai": "mistral_ai",
    "api.groq.com": "groq", "api.deepseek.com": "deepseek", "api.x.ai": "x_ai",
    "generativelanguage.googleapis.com": "gcp.gemini", "openrouter.ai": "openrouter",
}
PROVIDER_HOST_SUFFIXES = {".openai.azure.com": "azure.ai.openai"}


@dataclass(frozen=True)
class RunTags:
    """What every span of one run is tagged with."""

    experiment: str
    dataset: str
    dataset_version: int


@dataclass(frozen=True)
class CallRecord:
    """One call as the runner saw it: what was sent, what came back, and when (epoch ns)."""

    target: Target
    messages: list[dict[str, str]]
    reply: ChatReply
    tags: RunTags
    item_id: int
    start_ns: int
    end_ns: int


class SpanSink(Protocol):
    """Where the runner puts a call's span; returns its (trace id, span id) in hex."""

    def record(self, call: CallRecord) -> tuple[str, str]: ...


def span_attributes(call: CallRecord) -> dict[str, Any]:
    """OTel GenAI attributes (the ones `collector.normalize` reads) plus the experiment's."""
    target, reply = call.target, call.reply
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "chat", "gen_ai.request.model": target.model,
        "gen_ai.input.messages": json.dumps(parts_messages(call.messages), ensure_ascii=False),
        xf.EXPERIMENT_NAME: call.tags.experiment, xf.DATASET_NAME: call.tags.dataset,
        xf.DATASET_VERSION: call.tags.dataset_version, xf.ITEM_ID: call.item_id,
        **_server_attributes(target.endpoint),
    }
    if provider := provider_of(target.endpoint):
        attributes["gen_ai.provider.name"] = provider
    if target.temperature is not None:
        attributes["gen_ai.request.temperature"] = float(target.temperature)
    if target.max_tokens is not None:
        attributes["gen_ai.request.max_tokens"] = target.max_tokens
    attributes.update(_reply_attributes(reply))
    return attributes


def _reply_attributes(reply: ChatReply) -> dict[str, Any]:
    found: dict[str, Any] = {}
    if reply.response_id:
        found["gen_ai.response.id"] = reply.response_id
    if reply.response_model and not reply.error:
        found["gen_ai.response.model"] = reply.response_model
    if reply.finish_reason:
        found["gen_ai.response.finish_reasons"] = [reply.finish_reason]
    if reply.input_tokens is not None:
        found["gen_ai.usage.input_tokens"] = reply.input_tokens
    if reply.output_tokens is not None:
        found["gen_ai.usage.output_tokens"] = reply.output_tokens
    if reply.error:
        found["error.type"] = reply.error_type or "error"
    else:
        found[xf.ITEM_OUTPUT] = reply.output
        found["gen_ai.output.messages"] = json.dumps([{
            "role": "assistant", "parts": [{"type": "text", "content": reply.output}],
            "finish_reason": reply.finish_reason or "stop"}], ensure_ascii=False)
    return found


def parts_messages(messages: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Chat messages in the parts-based form of OTel GenAI ≥1.37 (`gen_ai.input.messages`)."""
    return [{"role": m.get("role", "user"), "parts": [{"type": "text", "content": m.get("content", "")}]}
            for m in messages]


def provider_of(endpoint: str) -> str:
    host = (urlsplit(endpoint).hostname or "").lower()
    if host in PROVIDER_HOSTS:
        return PROVIDER_HOSTS[host]
    return next((name for suffix, name in PROVIDER_HOST_SUFFIXES.items() if host.endswith(suffix)), "")


def _server_attributes(endpoint: str) -> dict[str, Any]:
    parts = urlsplit(endpoint)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return {"server.address": parts.hostname or "", "server.port": port}


class _CountingExporter(SpanExporter):
    """Counts the spans the OTLP exporter delivered, which the batch processor does not report."""

    def __init__(self, inner: SpanExporter) -> None:
        self._inner = inner
        self._lock = threading.Lock()
        self.delivered = 0
        self.lost = 0
        self._closed = False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            result = self._inner.export(spans)
        except Exception:  # an exporter bug loses spans; it must not kill the worker
            result = SpanExportResult.FAILURE
        with self._lock:
            if result is SpanExportResult.SUCCESS:
                self.delivered += len(spans)
            else:
                self.lost += len(spans)
        return result

    def shutdown(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


class OtlpSpanSink:
    """Exports one CLIENT span per call to `{ingest_url}/v1/traces`, authorized by the ingest key."""

    def __init__(self, ingest_url: str, ingest_key: str | None, *, export_timeout_s: float = 10.0,
                 flush_timeout_s: float = 30.0, schedule_delay_ms: int = 500) -> None:
        headers = {"Authorization": f"Bearer {ingest_key}"} if ingest_key else {}
        exporter = OTLPSpanExporter(endpoint=ingest_url.rstrip("/") + "/v1/traces", headers=headers,
                                    timeout=export_timeout_s)
        self._exporter = _CountingExporter(exporter)
        # A queue deep enough for a whole run at once: the processor drops spans from a full one.
        self._processor = BatchSpanProcessor(self._exporter, max_queue_size=65_536, max_export_batch_size=512,
                                             schedule_delay_millis=schedule_delay_ms)
        resource = Resource.create({"service.name": SERVICE_NAME, "deployment.environment.name": ENVIRONMENT})
        self._provider = TracerProvider(resource=resource)
        self._provider.add_span_processor(self._processor)
        self._tracer = self._provider.get_tracer(SCOPE_NAME)
        self._flush_timeout_s = flush_timeout_s
        self._lock = threading.Lock()
        self._recorded = 0

    @property
    def lost(self) -> int:
        """Spans recorded but not delivered (export failed or still queued)."""
        with self._lock:
            return self._recorded - self._exporter.delivered

    def record(self, call: CallRecord) -> tuple[str, str]:
        span = self._tracer.start_span(f"chat {call.target.model}", context=otel_context.Context(),
                                       kind=SpanKind.CLIENT, attributes=span_attributes(call),
                                       start_time=call.start_ns)
        if call.reply.error:
            span.set_status(Status(StatusCode.ERROR, call.reply.error))
        span.end(end_time=max(call.end_ns, call.start_ns))
        with self._lock:
            self._recorded += 1
        context = span.get_span_context()
        return format(context.trace_id, "032x"), format(context.span_id, "016x")

    def flush(self, timeout_s: float | None = None) -> bool:
        """Export what is queued; True when every span recorded so far was delivered. Bounded: a
        collector that is down costs at most the timeout, then this reports failure."""
        done = threading.Event()

        def run() -> None:
            self._processor.force_flush()
            done.set()

        threading.Thread(target=run, name="llmpulse-evals-flush", daemon=True).start()
        finished = done.wait(self._flush_timeout_s if timeout_s is None else timeout_s)
        return finished and self.lost == 0

    def close(self) -> None:
        """Flush (bounded) and stop the export thread; when the flush failed, the exporter is stopped
        first, which ends its retries, so closing never waits on a collector that is down."""
        if not self.flush():
            self._exporter.shutdown()
        self._processor.shutdown()
