"""`llmpulse demo`: realistic LLM traffic sent through the real OpenTelemetry SDK and OTLP exporter.

The traces are planned first (pure, seeded: see `llmpulse.demo.traffic`) and then emitted
with explicit timestamps spread over the last `days` days, one TracerProvider per service and
environment so each span carries the resource a real deployment would. Nothing here touches
the global tracer provider, so the demo can run inside an instrumented process.

What a newcomer should find afterwards: three services, six models from three providers in four
instrumentation conventions, RAG pipelines with retrieved documents, streamed calls with TTFT,
provider prompt caching and application cache hits, rate-limit errors followed by retries, an
agent loop with tools, a silent model change at the window's midpoint, and about 15% of RAG
answers not grounded in their context (`llmpulse.demo.grounded` = false, for checking the
hallucination detector).
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import SpanKind, Status, StatusCode

from llmpulse.demo.calls import CALL_ROLES, LLM, RETRIEVAL, TOOL, PlannedSpan, TracePlan
from llmpulse.demo.models import DRIFTING_MODEL, ENVIRONMENTS, SERVICES
from llmpulse.demo.rollout import CANDIDATE_MODEL, PROMPT_VERSION, SHADOW_OF
from llmpulse.demo.scenarios import GROUNDED_ATTRIBUTE
from llmpulse.demo.traffic import plan_traces

TRACES_PATH = "/v1/traces"
FLUSH_EVERY = 25  # traces between flushes: bounds memory and drives the progress callback
_KINDS = {"internal": SpanKind.INTERNAL, "client": SpanKind.CLIENT, "server": SpanKind.SERVER}


class DemoDeliveryError(RuntimeError):
    """The endpoint accepted none of the demo's spans (not running, wrong port or key)."""


@dataclass(frozen=True)
class DemoSummary:
    """What a demo run sent; `llm_calls` is what the summary API should report as `requests`."""

    traces: int
    spans: int
    llm_calls: int  # the app's LLM and embedding calls, failed attempts and app cache hits included, shadow calls not
    errors: int  # failed LLM call attempts (each followed by a successful retry)
    cache_hits: int  # application-level response cache hits
    retrievals: int
    tool_calls: int
    ungrounded: int  # RAG answers not grounded in their retrieved context
    services: tuple[str, ...]
    window_start: datetime
    window_end: datetime
    model_change_at: datetime  # from here on, DRIFTING_MODEL is served by its new version
    drifting_model: str
    spans_failed: int  # spans the endpoint did not accept
    rag_answers: tuple[RecordedAnswer, ...] = ()  # support-bot's RAG answers, for the golden set and labels
    shadow_calls: int = 0  # the candidate model's calls in shadow, unpaired ones included: spend, not requests
    unpaired_shadows: int = 0  # shadow calls whose primary call was never sent
    prompt_versions: tuple[tuple[str, int], ...] = ()  # RAG answer calls per prompt version, attempts included
    tool_trace: str = ""  # the id of a trace with a tool call (an agent loop), for the page tour

    def describe(self) -> str:
        """A few lines for a terminal: what was sent and what to look for in the UI."""
        change = self.model_change_at.strftime("%Y-%m-%d %H:%M UTC")
        versions = " and ".join(f"{count} {name}" for name, count in self.prompt_versions) or "no"
        lines = [
            f"sent {self.traces} traces ({self.spans} spans, {self.llm_calls} LLM/embedding calls) "
            f"from {', '.join(self.services)}",
            f"  {self.errors} rate-limited calls (each retried), {self.cache_hits} response-cache hits, "
            f"{self.retrievals} retrievals, {self.tool_calls} tool calls",
            f"  {self.ungrounded} RAG answers not grounded in their context",
            f"  {self.drifting_model} silently changed its response model at {change}",
            f"  A/B test of support-bot's prompt: {versions} calls by {PROMPT_VERSION}",
            f"  {self.shadow_calls} chat calls answered in shadow by {CANDIDATE_MODEL} "
            f"({self.unpaired_shadows} of them without their primary call)",
        ]
        if self.spans_failed:
            lines.append(f"  WARNING: {self.spans_failed} spans were not accepted by the endpoint")
        return "\n".join(lines)


@dataclass(frozen=True)
class RecordedAnswer:
    """One RAG answer the demo sent (its LLM call span), and whether it was grounded in its context."""

    trace_id: str
    span_id: str
    grounded: bool
    question: str


class _SeededIds(IdGenerator):
    """Trace and span ids from a seeded generator: a run is reproducible given seed and end time."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._lock = threading.Lock()

    def generate_span_id(self) -> int:
        with self._lock:
            return self._rng.getrandbits(64) or 1

    def generate_trace_id(self) -> int:
        with self._lock:
            return self._rng.getrandbits(128) or 1


class _CountingExporter(SpanExporter):
    """Counts what the wrapped exporter delivered; `run_demo` shuts the inner one down, once."""

    def __init__(self, inner: SpanExporter) -> None:
        self.inner = inner
        self.exported = 0
        self.failed = 0
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        result = self.inner.export(spans)
        with self._lock:
            if result is SpanExportResult.SUCCESS:
                self.exported += len(spans)
            else:
                self.failed += len(spans)
        return result

    def shutdown(self) -> None:
        """Processors call this each; the inner exporter is shut down once, by `run_demo`."""

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)


def traces_url(endpoint: str) -> str:
    """`http://host:4318` → `http://host:4318/v1/traces` (a full traces URL is kept as given)."""
    endpoint = endpoint.rstrip("/")
    return endpoint if endpoint.endswith(TRACES_PATH) else endpoint + TRACES_PATH


def make_otlp_exporter(endpoint: str, api_key: str | None) -> OTLPSpanExporter:
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    return OTLPSpanExporter(traces_url(endpoint), headers=headers, timeout=10, compression=Compression.Gzip)


def _resource(service: str, environment: str) -> Resource:
    version, language = SERVICES[service]
    return Resource(
        {
            "service.name": service,
            "service.version": version,
            "service.namespace": "acme",
            "deployment.environment.name": environment,
            "telemetry.sdk.name": "opentelemetry",
            "telemetry.sdk.language": language,
        }
    )


def _make_providers(exporter: SpanExporter, ids: IdGenerator) -> dict[tuple[str, str], TracerProvider]:
    providers = {}
    for service in SERVICES:
        for environment, _ in ENVIRONMENTS:
            provider = TracerProvider(resource=_resource(service, environment), id_generator=ids)
            provider.add_span_processor(BatchSpanProcessor(exporter, max_queue_size=8192, schedule_delay_millis=500))
            providers[service, environment] = provider
    return providers


def _ns(ms: float) -> int:
    return int(ms * 1_000_000)


def _parents_first(spans: Iterable[PlannedSpan]) -> list[PlannedSpan]:
    by_key = {span.key: span for span in spans}

    def depth(span: PlannedSpan) -> int:
        return 0 if span.parent is None else 1 + depth(by_key[span.parent])

    return sorted(by_key.values(), key=lambda span: (depth(span), span.start_ms))


def _mark_failed(span: trace.Span, planned: PlannedSpan, end_ns: int) -> None:
    failure = planned.failure
    span.add_event(
        "exception",
        {
            "exception.type": failure.exception_type,
            "exception.message": failure.message,
            "exception.escaped": "False",
        },
        timestamp=end_ns,
    )
    span.set_status(Status(StatusCode.ERROR, failure.message))


def _attributes(planned: PlannedSpan, emitted: dict[str, trace.Span]) -> dict:
    """A shadow call names its primary by span id, known only once the primary was started."""
    if planned.shadow_of is None:
        return dict(planned.attributes)
    return {**planned.attributes, SHADOW_OF: f"{emitted[planned.shadow_of].get_span_context().span_id:016x}"}


def _emit_span(
    provider: TracerProvider, plan: TracePlan, planned: PlannedSpan, emitted: dict[str, trace.Span]
) -> trace.Span:
    start = plan.start_ns + _ns(planned.start_ms)
    end = start + max(_ns(planned.duration_ms), 1)
    parent = emitted.get(planned.parent or "")
    context = trace.set_span_in_context(parent) if parent else Context()  # never the caller's active span
    span = provider.get_tracer(planned.scope).start_span(
        planned.name, context, _KINDS[planned.kind], _attributes(planned, emitted), start_time=start
    )
    for name, offset_ms, attributes in planned.events:
        span.add_event(name, attributes, timestamp=start + _ns(offset_ms))
    if planned.failure:
        _mark_failed(span, planned, end)
    span.end(end_time=end)
    return span


def _emit_trace(provider: TracerProvider, plan: TracePlan, answers: list[RecordedAnswer]) -> str:
    """Returns the trace's id."""
    emitted: dict[str, trace.Span] = {}
    for planned in _parents_first(plan.spans):
        emitted[planned.key] = span = _emit_span(provider, plan, planned, emitted)
        if plan.service == "support-bot" and planned.role == LLM and GROUNDED_ATTRIBUTE in planned.attributes:
            ids, root = span.get_span_context(), next(s for s in plan.spans if s.parent is None)
            answers.append(RecordedAnswer(f"{ids.trace_id:032x}", f"{ids.span_id:016x}",
                                          bool(planned.attributes[GROUNDED_ATTRIBUTE]),
                                          str(root.attributes.get("input.value", ""))))
    return f"{next(iter(emitted.values())).get_span_context().trace_id:032x}"


def _flush(providers: Iterable[TracerProvider], sink: _CountingExporter, url: str) -> None:
    for provider in providers:
        provider.force_flush()
    if sink.failed and not sink.exported:
        raise DemoDeliveryError(
            f"{url} accepted none of the demo's spans: is `llmpulse serve` running there, and is the ingest key right?"
        )


def _emit_all(
    plans: list[TracePlan],
    providers: dict[tuple[str, str], TracerProvider],
    sink: _CountingExporter,
    url: str,
    progress: Callable[[int, int], None] | None,
    answers: list[RecordedAnswer],
) -> str:
    """Returns the id of a trace with a tool call ("" when none had one)."""
    tool_trace = ""
    for done, plan in enumerate(plans, start=1):
        trace_id = _emit_trace(providers[plan.service, plan.environment], plan, answers)
        if not tool_trace and any(span.role == TOOL for span in plan.spans):
            tool_trace = trace_id
        if done % FLUSH_EVERY == 0 or done == len(plans):
            _flush(providers.values(), sink, url)
            if progress:
                progress(done, len(plans))
    return tool_trace


def _count(plans: list[TracePlan], predicate: Callable[[PlannedSpan], bool]) -> int:
    return sum(1 for plan in plans for span in plan.spans if predicate(span))


def summarize(plans: list[TracePlan], start_ns: int, end_ns: int, spans_failed: int = 0,
              answers: Sequence[RecordedAnswer] = (), tool_trace: str = "") -> DemoSummary:
    def moment(ns: int) -> datetime:
        return datetime.fromtimestamp(ns / 1e9, UTC)

    return DemoSummary(
        traces=len(plans),
        spans=sum(len(plan.spans) for plan in plans),
        llm_calls=_count(plans, lambda s: s.role in CALL_ROLES and not _is_shadow(s)),
        errors=_count(plans, lambda s: s.failure is not None),
        cache_hits=_count(plans, lambda s: s.attributes.get("llmpulse.cache_hit") is True),
        retrievals=_count(plans, lambda s: s.role == RETRIEVAL),
        tool_calls=_count(plans, lambda s: s.role == TOOL),
        ungrounded=_count(plans, lambda s: s.attributes.get(GROUNDED_ATTRIBUTE) is False),
        services=tuple(sorted({plan.service for plan in plans})),
        window_start=moment(start_ns),
        window_end=moment(end_ns),
        model_change_at=moment(start_ns + (end_ns - start_ns) // 2),
        drifting_model=DRIFTING_MODEL,
        spans_failed=spans_failed,
        rag_answers=tuple(answers),
        shadow_calls=_count(plans, _is_shadow),
        unpaired_shadows=_count(plans, lambda s: s.shadow_of is None and SHADOW_OF in s.attributes),
        prompt_versions=tuple(sorted(Counter(str(s.attributes[PROMPT_VERSION]) for plan in plans for s in plan.spans
                                             if PROMPT_VERSION in s.attributes).items())),
        tool_trace=tool_trace,
    )


def _is_shadow(span: PlannedSpan) -> bool:
    return span.shadow_of is not None or SHADOW_OF in span.attributes


def _window(days: float, now: datetime | None) -> tuple[int, int]:
    end = now or datetime.now(UTC)
    start = end - timedelta(days=days)
    return int(start.timestamp() * 1e9), int(end.timestamp() * 1e9)


def run_demo(
    endpoint: str,
    *,
    traces: int = 300,
    seed: int = 7,
    api_key: str | None = None,
    days: float = 1.0,
    progress: Callable[[int, int], None] | None = None,
    exporter: SpanExporter | None = None,
    now: datetime | None = None,
) -> DemoSummary:
    """Send `traces` demo traces to an OTLP/HTTP endpoint; returns what was sent.

    `seed` fixes the content; ids also depend on `now` (default: the current time), so a later
    run adds new traces instead of replaying the same ids. `exporter` replaces the OTLP
    exporter (tests pass an in-memory one) and is left running. `progress(done, total)` is called after each flush.
    Raises DemoDeliveryError when the endpoint accepts nothing.
    """
    if traces < 1 or days <= 0:
        raise ValueError("traces must be at least 1 and days positive")
    start_ns, end_ns = _window(days, now)
    ids_seed = f"{seed}:{end_ns}"
    plans = plan_traces(traces=traces, seed=seed, start_ns=start_ns, end_ns=end_ns, ids_seed=ids_seed)
    inner = exporter or make_otlp_exporter(endpoint, api_key)
    sink = _CountingExporter(inner)
    providers = _make_providers(sink, _SeededIds(random.Random(ids_seed + ":spans")))
    answers: list[RecordedAnswer] = []
    try:
        tool_trace = _emit_all(plans, providers, sink, traces_url(endpoint), progress, answers)
    finally:
        for provider in providers.values():
            provider.shutdown()
        if exporter is None:  # a caller's exporter stays the caller's to shut down
            inner.shutdown()
    return summarize(plans, start_ns, end_ns, sink.failed, answers, tool_trace)


__all__ = ["DemoDeliveryError", "DemoSummary", "RecordedAnswer", "make_otlp_exporter", "run_demo", "traces_url"]
