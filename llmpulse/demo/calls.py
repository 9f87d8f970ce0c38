"""Building blocks of demo traces: planned spans, a trace builder, and LLM calls with retries.

Planning is pure (random.Random in, frozen records out), so a seed fixes every trace and the
unit tests can inspect plans without an exporter; `llmpulse.demo.send` turns plans into real spans.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field, replace
from typing import Any

from llmpulse.demo.conventions import (
    OPENINFERENCE,
    OPENLLMETRY,
    OTEL,
    RENDERERS,
    VERCEL,
    Attributes,
    Failure,
    LlmCall,
    Message,
    Rendered,
    ToolCall,
    render_vercel_outer,
)
from llmpulse.demo.models import MODELS, VERBOSE_TAILS, ModelSpec, ModelVersion

# Span roles: what the span is, from the demo's point of view (LLM and embedding spans are calls).
LLM, EMBEDDING, RETRIEVAL, TOOL, AGENT, CHAIN, HTTP = (
    "llm",
    "embedding",
    "retrieval",
    "tool",
    "agent",
    "chain",
    "http",
)
CALL_ROLES = (LLM, EMBEDDING)

FAILURE_RATE = 0.05
# (error.type, exception class per SDK, message, weight); every failed attempt is retried.
_FAILURES = (
    (
        "RateLimitError",
        "RateLimitError",
        "Error code: 429 - Rate limit reached for {model} on tokens per min (TPM). Please try again in 1.2s.",
        0.8,
    ),
    (
        "RateLimitError",
        "RateLimitError",
        "Error code: 429 - Too many requests for {model}; retry after 2s.",
        0.2,
    ),
)
_SDK_MODULES = {"openai": "openai", "anthropic": "anthropic", "gcp.gemini": "google.genai.errors"}
_SCOPES = {
    OTEL: "opentelemetry.util.genai.handler",
    OPENINFERENCE: "openinference.instrumentation.{sdk}",
    OPENLLMETRY: "opentelemetry.instrumentation.{sdk}",
    VERCEL: "ai",
}
_SCOPE_SDKS = {"openai": "openai", "anthropic": "anthropic", "gcp.gemini": "google_genai"}


@dataclass(frozen=True)
class PlannedSpan:
    key: str
    parent: str | None
    name: str
    start_ms: float  # after the trace's start
    duration_ms: float
    attributes: Attributes
    role: str
    scope: str
    kind: str = "internal"  # internal | client | server
    failure: Failure | None = None
    events: tuple[tuple[str, float, Attributes], ...] = ()
    shadow_of: str | None = None  # key of the primary call this shadow call answers beside (ids exist only once sent)


@dataclass(frozen=True)
class TracePlan:
    scenario: str
    service: str
    environment: str
    start_ns: int
    spans: tuple[PlannedSpan, ...]


@dataclass
class Sideline:
    """Draws for what a team testing a change adds to its traffic (prompt versions, shadow calls).

    Apart from the trace's own generator, so adding them left every other call of a seed as it was.
    """

    rng: random.Random  # content: from the run's seed
    ids: random.Random  # response and span ids: also from the run's time, as TraceContext.ids
    shadows: int = 0  # shadow calls planned so far in the run


@dataclass
class TraceContext:
    """Per-trace facts shared by a scenario's steps."""

    rng: random.Random
    ids: random.Random  # response ids: unique per run, so re-runs are new calls
    phase: int  # 0 before the window's midpoint, 1 after (the silent model change)
    service: str
    user_id: str
    session_id: str
    turn: int  # how many turns this session had before this trace
    side: Sideline = field(default_factory=lambda: Sideline(random.Random(0), random.Random(1)))


@dataclass(frozen=True)
class CallRequest:
    """What the application asks for; `complete_call` adds what the provider answers."""

    model: str
    convention: str
    messages: tuple[Message, ...]
    output: str = ""
    system: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    finish_reason: str = "stop"
    stream: bool = False
    prefix_tokens: int = 0  # input not shown in the messages (tool definitions, examples)
    cache_read: int = 0
    cache_write: int = 0
    chatty: bool = True  # the drifted model version pads this answer
    app_cache_hit: bool = False
    latency_factor: float = 1.0  # the app's side of latency (a longer prompt makes the model think longer)
    extra: Attributes = field(default_factory=dict)


class TraceBuilder:
    """Collects the spans of one trace; children may be added before their parents."""

    def __init__(self, context: TraceContext) -> None:
        self.context = context
        self.spans: list[PlannedSpan] = []
        self._next = 0

    def reserve(self) -> str:
        self._next += 1
        return f"s{self._next}"

    def add(
        self,
        parent: str | None,
        name: str,
        start_ms: float,
        duration_ms: float,
        attributes: Attributes,
        role: str,
        *,
        key: str | None = None,
        **options: Any,
    ) -> float:
        """Add a span and return its end (ms); `options` are the other PlannedSpan fields."""
        options.setdefault("scope", self.context.service)
        span = PlannedSpan(key or self.reserve(), parent, name, start_ms, duration_ms, attributes, role, **options)
        self.spans.append(span)
        return start_ms + duration_ms

    def add_root(self, name: str, end_ms: float, attributes: Attributes, role: str, **options: Any) -> None:
        self.add(None, name, 0.0, end_ms, attributes, role, key="root", **options)

    def last_key(self) -> str:
        return self.spans[-1].key

    def ids_hex(self, bits: int) -> str:
        return f"{self.context.ids.getrandbits(bits):0{bits // 4}x}"


def jitter(rng: random.Random, sigma: float = 0.3) -> float:
    """A log-normal factor around 1: latencies are skewed, with an occasional slow one."""
    return math.exp(rng.gauss(0.0, sigma))


def estimate_tokens(*texts: str) -> int:
    return sum(max(1, round(len(text) / 3.8)) for text in texts if text)


def user_fields(context: TraceContext) -> Attributes:
    return {"user.id": context.user_id, "session.id": context.session_id}


def _version(spec: ModelSpec, phase: int) -> ModelVersion:
    return spec.versions[min(phase, len(spec.versions) - 1)]


def _response_id(builder: TraceBuilder, provider: str, operation: str) -> str:
    if operation == "embeddings":
        return ""
    prefixes = {"openai": "chatcmpl-", "anthropic": "msg_01", "gcp.gemini": "gem-"}
    return prefixes.get(provider, "resp-") + builder.ids_hex(96)


def _padded_output(request: CallRequest, version: ModelVersion, rng: random.Random) -> str:
    if version.verbose and request.chatty and request.output and not request.tool_calls:
        return request.output + rng.choice(VERBOSE_TAILS)
    return request.output


def _input_tokens(request: CallRequest) -> int:
    texts = [request.system, *(m.content for m in request.messages)]
    return request.prefix_tokens + estimate_tokens(*texts) + 4 * len(request.messages)


def _timing(
    spec: ModelSpec, version: ModelVersion, output_tokens: int, request: CallRequest, rng: random.Random
) -> tuple[float | None, float]:
    """(time to first token if streamed, duration) in ms."""
    if request.app_cache_hit:
        return None, rng.uniform(1.5, 6.0)
    if spec.ttft_ms == 0:  # embeddings
        return None, 45 + _input_tokens(request) / 40 * jitter(rng)
    factor = version.latency_factor * request.latency_factor
    ttft = spec.ttft_ms * factor * jitter(rng)
    generation = output_tokens * spec.ms_per_token * factor * jitter(rng, 0.15)
    return (ttft if request.stream else None), ttft + generation


def complete_call(builder: TraceBuilder, request: CallRequest) -> LlmCall:
    """The provider's answer: response model/version, tokens, timing, ids."""
    context, spec = builder.context, MODELS[request.model]
    version = _version(spec, context.phase)
    output = _padded_output(request, version, context.rng)
    tool_tokens = sum(estimate_tokens(t.arguments) + 8 for t in request.tool_calls)
    output_tokens = estimate_tokens(output) + tool_tokens
    ttft, duration = _timing(spec, version, output_tokens, request, context.rng)
    operation = "embeddings" if spec.ttft_ms == 0 else "chat"
    hit = request.app_cache_hit
    return LlmCall(
        provider=spec.provider,
        operation=operation,
        request_model=request.model,
        response_model="" if hit else version.response_model,
        response_id="" if hit else _response_id(builder, spec.provider, operation),
        fingerprint=version.fingerprint,
        system=request.system,
        messages=request.messages,
        output=output,
        tool_calls=request.tool_calls,
        finish_reason=request.finish_reason,
        input_tokens=0 if hit else _input_tokens(request),
        output_tokens=0 if hit else output_tokens,
        cache_read=request.cache_read,
        cache_write=request.cache_write,
        stream=request.stream,
        ttft_ms=ttft,
        duration_ms=duration,
        host=spec.host,
        user_id=context.user_id,
        session_id=context.session_id,
        app_cache_hit=hit,
        extra=request.extra,
    )


def _pick_failure(rng: random.Random, request: CallRequest) -> Failure | None:
    if request.app_cache_hit or rng.random() >= FAILURE_RATE:
        return None
    error_type, exception, message, _ = rng.choices(_FAILURES, weights=[f[3] for f in _FAILURES])[0]
    provider = MODELS[request.model].provider
    return Failure(error_type, f"{_SDK_MODULES[provider]}.{exception}", message.format(model=request.model))


def _failed_call(builder: TraceBuilder, request: CallRequest, failure: Failure) -> LlmCall:
    rng = builder.context.rng
    extra = {k: v for k, v in request.extra.items() if not k.startswith("llmpulse.demo.")}
    call = complete_call(builder, replace(request, extra=extra))
    return replace(call, failure=failure, duration_ms=rng.uniform(40, 260), ttft_ms=None, response_id="")


def _scope(call: LlmCall, convention: str) -> str:
    return _SCOPES[convention].format(sdk=_SCOPE_SDKS.get(call.provider, call.provider))


def _add_call_span(builder: TraceBuilder, parent: str, start_ms: float, call: LlmCall, convention: str,
                   shadow_of: str | None = None) -> float:
    rendered: Rendered = RENDERERS[convention](call)
    attributes = {**rendered.attributes, **call.extra}
    if call.failure:
        attributes["error.type"] = call.failure.error_type
    if call.app_cache_hit:
        attributes["llmpulse.cache_hit"] = True
    role = EMBEDDING if call.operation == "embeddings" else LLM
    return builder.add(
        parent,
        rendered.name,
        start_ms,
        call.duration_ms,
        attributes,
        role,
        scope=_scope(call, convention),
        kind="client" if rendered.client_kind else "internal",
        failure=call.failure,
        events=rendered.events,
        shadow_of=shadow_of,
    )


def _call_with_retry(
    builder: TraceBuilder, parent: str, start_ms: float, request: CallRequest
) -> tuple[float, LlmCall]:
    failure = _pick_failure(builder.context.rng, request)
    if failure:
        failed = _failed_call(builder, request, failure)
        start_ms = _add_call_span(builder, parent, start_ms, failed, request.convention)
        start_ms += builder.context.rng.uniform(500, 2500)  # the SDK's backoff before the retry
    call = complete_call(builder, request)
    return _add_call_span(builder, parent, start_ms, call, request.convention), call


def call_model(builder: TraceBuilder, parent: str, start_ms: float, request: CallRequest) -> tuple[float, LlmCall]:
    """Plan one model call (and its failed first attempt, sometimes); returns (end ms, the call)."""
    if request.convention != VERCEL:
        return _call_with_retry(builder, parent, start_ms, request)
    outer = builder.reserve()
    end_ms, call = _call_with_retry(builder, outer, start_ms + 1.5, request)
    rendered = render_vercel_outer(call)
    builder.add(
        parent,
        rendered.name,
        start_ms,
        end_ms - start_ms + 2.0,
        rendered.attributes,
        CHAIN,
        key=outer,
        scope="ai",
    )
    return end_ms + 2.0, call


def shadow_call(builder: TraceBuilder, parent: str, start_ms: float, request: CallRequest,
                primary: str | None) -> float:
    """A candidate model answers the primary call's input beside it (`primary`: the primary span's key;
    None when its id is already in `request.extra`). No retry: a shadow's failure reaches no user."""
    side = builder.context.side
    call = complete_call(TraceBuilder(replace(builder.context, rng=side.rng, ids=side.ids)), request)
    return _add_call_span(builder, parent, start_ms, call, request.convention, shadow_of=primary)
