"""Render one demo LLM call as the span attributes of each instrumentation convention.

A call is described once (`LlmCall`); `RENDERERS` turns it into what OTel GenAI (current
names), OpenInference, classic OpenLLMetry or the Vercel AI SDK would have sent, so the demo
exercises the collector's normalization the way real mixed fleets do.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Attributes = dict[str, Any]

OTEL = "otel"
OPENINFERENCE = "openinference"
OPENLLMETRY = "openllmetry"
VERCEL = "vercel"


@dataclass(frozen=True)
class ToolCall:
    call_id: str
    name: str
    arguments: str  # JSON


@dataclass(frozen=True)
class Message:
    role: str  # user | assistant | tool
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str = ""


@dataclass(frozen=True)
class Failure:
    error_type: str
    exception_type: str
    message: str


@dataclass(frozen=True)
class LlmCall:
    """One provider call as the application saw it; token counts follow OTel (input includes cache)."""

    provider: str
    operation: str  # chat | embeddings
    request_model: str
    response_model: str = ""
    response_id: str = ""
    fingerprint: str | None = None
    system: str = ""
    messages: tuple[Message, ...] = ()
    output: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    finish_reason: str = "stop"
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read: int = 0
    cache_write: int = 0
    stream: bool = False
    ttft_ms: float | None = None
    duration_ms: float = 0.0
    temperature: float = 0.2
    host: str = ""
    user_id: str = ""
    session_id: str = ""
    app_cache_hit: bool = False
    failure: Failure | None = None
    extra: Attributes = field(default_factory=dict)


@dataclass(frozen=True)
class Rendered:
    name: str
    attributes: Attributes
    events: tuple[tuple[str, float, Attributes], ...] = ()  # (name, ms after span start, attributes)
    client_kind: bool = True


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _drop_empty(attributes: Attributes) -> Attributes:
    return {k: v for k, v in attributes.items() if v is not None and v != ""}


def _succeeded(call: LlmCall) -> bool:
    return call.failure is None


# --- OpenTelemetry GenAI semantic conventions (v1.37+ names) ---------------------------------


def _otel_parts(message: Message) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [{"type": "text", "content": message.content}] if message.content else []
    parts += [
        {"type": "tool_call", "id": t.call_id, "name": t.name, "arguments": json.loads(t.arguments)}
        for t in message.tool_calls
    ]
    if message.tool_call_id:
        parts = [{"type": "tool_call_response", "id": message.tool_call_id, "response": message.content}]
    return {"role": message.role, "parts": parts}


def _otel_content(call: LlmCall) -> Attributes:
    output = Message("assistant", call.output, call.tool_calls)
    return {
        "gen_ai.system_instructions": _json([{"type": "text", "content": call.system}]) if call.system else None,
        "gen_ai.input.messages": _json([_otel_parts(m) for m in call.messages]),
        "gen_ai.output.messages": _json([{**_otel_parts(output), "finish_reason": call.finish_reason}])
        if _succeeded(call) and call.operation == "chat"
        else None,
    }


def _otel_usage(call: LlmCall) -> Attributes:
    return {
        "gen_ai.usage.input_tokens": call.input_tokens,
        "gen_ai.usage.output_tokens": call.output_tokens if call.operation == "chat" else None,
        "gen_ai.usage.cache_read.input_tokens": call.cache_read or None,
        "gen_ai.usage.cache_creation.input_tokens": call.cache_write or None,
    }


def _otel_response(call: LlmCall) -> Attributes:
    if not _succeeded(call) or call.app_cache_hit:
        return {}
    return {
        "gen_ai.response.model": call.response_model,
        "gen_ai.response.id": call.response_id,
        "gen_ai.response.finish_reasons": [call.finish_reason] if call.operation == "chat" else None,
        "openai.response.system_fingerprint": call.fingerprint,
        "gen_ai.response.time_to_first_chunk": call.ttft_ms / 1000 if call.ttft_ms else None,
    }


def render_otel(call: LlmCall) -> Rendered:
    attributes = {
        "gen_ai.operation.name": call.operation,
        "gen_ai.provider.name": call.provider,
        "gen_ai.request.model": call.request_model,
        "gen_ai.request.temperature": call.temperature if call.operation == "chat" else None,
        "gen_ai.request.stream": True if call.stream else None,
        "gen_ai.embeddings.dimension.count": 1536 if call.operation == "embeddings" else None,
        "server.address": call.host,
        "user.id": call.user_id,
        "session.id": call.session_id,
        "gen_ai.conversation.id": call.session_id,
        **(_otel_usage(call) if _succeeded(call) else {}),
        **_otel_response(call),
        **(_otel_content(call) if call.operation == "chat" else {}),
    }
    return Rendered(f"{call.operation} {call.request_model}", _drop_empty(attributes))


# --- OpenInference -----------------------------------------------------------------------------


def _oi_message(prefix: str, message: Message) -> Attributes:
    attributes = {
        f"{prefix}.message.role": message.role,
        f"{prefix}.message.content": message.content or None,
    }
    if message.tool_call_id:
        attributes[f"{prefix}.message.tool_call_id"] = message.tool_call_id
    for k, tool in enumerate(message.tool_calls):
        base = f"{prefix}.message.tool_calls.{k}.tool_call"
        attributes |= {
            f"{base}.id": tool.call_id,
            f"{base}.function.name": tool.name,
            f"{base}.function.arguments": tool.arguments,
        }
    return attributes


def _oi_messages(call: LlmCall) -> Attributes:
    inputs = ((Message("system", call.system),) if call.system else ()) + call.messages
    attributes: Attributes = {}
    for i, message in enumerate(inputs):
        attributes |= _oi_message(f"llm.input_messages.{i}", message)
    if _succeeded(call):
        attributes |= _oi_message("llm.output_messages.0", Message("assistant", call.output, call.tool_calls))
    return attributes


def _oi_usage(call: LlmCall) -> Attributes:
    if not _succeeded(call):
        return {}
    return {
        "llm.model_name": call.response_model,
        "llm.token_count.prompt": call.input_tokens,
        "llm.token_count.completion": call.output_tokens,
        "llm.token_count.total": call.input_tokens + call.output_tokens,
        "llm.token_count.prompt_details.cache_read": call.cache_read or None,
        "llm.token_count.prompt_details.cache_write": call.cache_write or None,
        "llm.finish_reason": call.finish_reason,
        "output.value": call.output,
        "output.mime_type": "text/plain",
    }


def _oi_embedding(call: LlmCall) -> Rendered:
    attributes = {
        "openinference.span.kind": "EMBEDDING",
        "llm.system": call.provider,
        "embedding.model_name": call.response_model or call.request_model,
        "embedding.embeddings.0.embedding.text": call.messages[0].content if call.messages else None,
        "llm.token_count.prompt": call.input_tokens,
        "llm.token_count.total": call.input_tokens,
        "session.id": call.session_id,
        "user.id": call.user_id,
    }
    return Rendered("CreateEmbeddings", _drop_empty(attributes), client_kind=False)


def render_openinference(call: LlmCall) -> Rendered:
    if call.operation == "embeddings":
        return _oi_embedding(call)
    invocation = {"model": call.request_model, "temperature": call.temperature, "stream": call.stream}
    request = {
        "model": call.request_model,
        "messages": [{"role": m.role, "content": m.content} for m in call.messages],
    }
    attributes = {
        "openinference.span.kind": "LLM",
        "llm.system": call.provider,
        "llm.provider": call.provider,
        "llm.invocation_parameters": _json(invocation),
        "input.value": _json(request),
        "input.mime_type": "application/json",
        "session.id": call.session_id,
        "user.id": call.user_id,
        **_oi_messages(call),
        **_oi_usage(call),
    }
    first_token = (("First Token Stream Event", call.ttft_ms, {}),) if call.ttft_ms and _succeeded(call) else ()
    name = "Messages" if call.provider == "anthropic" else "ChatCompletion"
    return Rendered(name, _drop_empty(attributes), first_token, client_kind=False)


# --- OpenLLMetry / Traceloop, classic (pre-2026) names -------------------------------------------

_TRACELOOP_SYSTEMS = {"openai": "openai", "anthropic": "Anthropic", "gcp.gemini": "Gemini"}


def _traceloop_content(call: LlmCall) -> Attributes:
    inputs = ((Message("system", call.system),) if call.system else ()) + call.messages
    attributes: Attributes = {}
    for i, message in enumerate(inputs):
        attributes |= {f"gen_ai.prompt.{i}.role": message.role, f"gen_ai.prompt.{i}.content": message.content}
    if _succeeded(call):
        attributes |= {
            "gen_ai.completion.0.role": "assistant",
            "gen_ai.completion.0.content": call.output,
            "gen_ai.completion.0.finish_reason": call.finish_reason,
        }
    return attributes


def _traceloop_usage(call: LlmCall) -> Attributes:
    if not _succeeded(call):
        return {}
    return {
        "gen_ai.response.model": call.response_model,
        "gen_ai.response.id": call.response_id,
        "gen_ai.openai.system_fingerprint": call.fingerprint,
        "gen_ai.usage.prompt_tokens": call.input_tokens,
        "gen_ai.usage.completion_tokens": call.output_tokens,
        "llm.usage.total_tokens": call.input_tokens + call.output_tokens,
        "gen_ai.usage.cache_read_input_tokens": call.cache_read or None,
        "gen_ai.usage.cache_creation_input_tokens": call.cache_write or None,
    }


def render_openllmetry(call: LlmCall) -> Rendered:
    attributes = {
        "llm.request.type": "chat" if call.operation == "chat" else "embedding",
        "gen_ai.system": _TRACELOOP_SYSTEMS.get(call.provider, call.provider),
        "gen_ai.request.model": call.request_model,
        "gen_ai.request.temperature": call.temperature,
        "llm.is_streaming": call.stream,
        "traceloop.association.properties.user_id": call.user_id,
        "traceloop.association.properties.session_id": call.session_id,
        **_traceloop_usage(call),
        **_traceloop_content(call),
    }
    prefix = call.provider.split(".")[-1]
    return Rendered(f"{prefix}.{call.operation}", _drop_empty(attributes))


# --- Vercel AI SDK (legacy `ai.*` spans, v5 usage names) -----------------------------------------

_VERCEL_PROVIDERS = {
    "openai": "openai.chat",
    "anthropic": "anthropic.messages",
    "gcp.gemini": "google.generative-ai",
}


def vercel_operation(call: LlmCall) -> str:
    """The outer AI SDK function that wraps this provider call."""
    if call.operation == "embeddings":
        return "ai.embed"
    return "ai.streamText" if call.stream else "ai.generateText"


def _vercel_common(call: LlmCall, operation: str) -> Attributes:
    return {
        "operation.name": operation,
        "ai.operationId": operation,
        "ai.model.id": call.request_model,
        "ai.model.provider": _VERCEL_PROVIDERS.get(call.provider, call.provider),
        "ai.telemetry.functionId": call.extra.get("ai.telemetry.functionId"),
        "ai.telemetry.metadata.userId": call.user_id,
        "ai.telemetry.metadata.sessionId": call.session_id,
    }


def _vercel_usage(call: LlmCall) -> Attributes:
    if call.operation == "embeddings":
        return {"ai.usage.tokens": call.input_tokens}
    return {
        "ai.usage.inputTokens": call.input_tokens,
        "ai.usage.outputTokens": call.output_tokens,
        "ai.usage.totalTokens": call.input_tokens + call.output_tokens,
        "ai.usage.cachedInputTokens": call.cache_read or None,
        "ai.response.text": call.output,
        "ai.response.finishReason": call.finish_reason,
    }


def _vercel_stream_timing(call: LlmCall) -> Attributes:
    if not call.stream or call.ttft_ms is None:
        return {}
    return {
        "ai.response.msToFirstChunk": round(call.ttft_ms, 1),
        "ai.response.msToFinish": round(call.duration_ms, 1),
        "ai.response.avgOutputTokensPerSecond": round(call.output_tokens / max(call.duration_ms, 1) * 1000, 1),
    }


def _vercel_inner_attributes(call: LlmCall) -> Attributes:
    prompt = [{"role": "system", "content": call.system}] if call.system else []
    prompt += [{"role": m.role, "content": [{"type": "text", "text": m.content}]} for m in call.messages]
    return {
        "ai.prompt.messages": _json(prompt) if call.operation == "chat" else None,
        "ai.values": [m.content for m in call.messages] if call.operation == "embeddings" else None,
        "ai.response.id": call.response_id,
        "ai.response.model": call.response_model,
        "gen_ai.system": _VERCEL_PROVIDERS.get(call.provider, call.provider),
        "gen_ai.request.model": call.request_model,
        "gen_ai.response.model": call.response_model,
        "gen_ai.response.id": call.response_id,
        "gen_ai.response.finish_reasons": [call.finish_reason] if call.operation == "chat" else None,
        "gen_ai.usage.input_tokens": call.input_tokens,
        "gen_ai.usage.output_tokens": call.output_tokens if call.operation == "chat" else None,
        **_vercel_stream_timing(call),
    }


def render_vercel(call: LlmCall) -> Rendered:
    """The provider-call span (`doGenerate`/`doStream`/`doEmbed`); see `render_vercel_outer`."""
    outer = vercel_operation(call)
    operation = {"ai.embed": "ai.embed.doEmbed", "ai.streamText": "ai.streamText.doStream"}.get(
        outer, "ai.generateText.doGenerate"
    )
    attributes = _vercel_common(call, operation)
    if _succeeded(call):
        attributes |= _vercel_usage(call) | _vercel_inner_attributes(call)
    first = (("ai.stream.firstChunk", call.ttft_ms, {"ai.response.msToFirstChunk": call.ttft_ms}),)
    return Rendered(operation, _drop_empty(attributes), first if call.stream and _succeeded(call) else ())


def render_vercel_outer(call: LlmCall) -> Rendered:
    """The AI SDK function span; it repeats the usage of its provider call (a double-count trap)."""
    attributes = _vercel_common(call, vercel_operation(call))
    if call.operation == "chat":
        attributes["ai.prompt"] = _json({"system": call.system, "prompt": call.messages[-1].content})
    if _succeeded(call):
        attributes |= _vercel_usage(call)
    return Rendered(vercel_operation(call), _drop_empty(attributes), client_kind=False)


RENDERERS: dict[str, Callable[[LlmCall], Rendered]] = {
    OTEL: render_otel,
    OPENINFERENCE: render_openinference,
    OPENLLMETRY: render_openllmetry,
    VERCEL: render_vercel,
}
