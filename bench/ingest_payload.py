"""Pre-built OTLP trace export requests of OTel GenAI chat spans, with ids patched cheaply per send.

A template is serialized once; trace ids, span ids, parent span ids and `gen_ai.response.id`
sit at known byte offsets and only their request-number bytes change per send, so a 1,000-span
request costs the client about a millisecond instead of a protobuf build.
"""

from __future__ import annotations

import json
import os
import random
import time
from dataclasses import dataclass

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, InstrumentationScope, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

SPANS_PER_TRACE = 4
# (provider, requested model, response model, cache read tokens, cache write tokens)
_MODELS = (
    ("openai", "gpt-4o-mini", "gpt-4o-mini-2024-07-18", 0, 0),
    ("openai", "gpt-4o", "gpt-4o-2024-08-06", 1024, 0),
    ("anthropic", "claude-sonnet-4-5", "claude-sonnet-4-5-20250929", 2048, 310),
    ("anthropic", "claude-haiku-4-5", "claude-haiku-4-5-20251001", 0, 1480),
    ("gcp.gemini", "gemini-2.5-flash", "gemini-2.5-flash", 0, 0),
)
_TOPICS = (
    "refund policy for annual plans",
    "API rate limits on the Pro plan",
    "exporting workspace data",
    "SAML single sign-on with Okta",
    "webhook signature verification",
    "data retention per plan",
)


# --- payloads -------------------------------------------------------------------------------------


def _kv(key: str, value: object) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    if isinstance(value, float):
        return KeyValue(key=key, value=AnyValue(double_value=value))
    if isinstance(value, list):
        return KeyValue(
            key=key, value=AnyValue(array_value=ArrayValue(values=[AnyValue(string_value=v) for v in value]))
        )
    return KeyValue(key=key, value=AnyValue(string_value=str(value)))


def _messages(rng: random.Random) -> tuple[str, str]:
    """About 1 KB of OTel GenAI message JSON: a RAG prompt and its answer."""
    topic = rng.choice(_TOPICS)
    context = f"Context: [kb-{rng.randint(100, 999)}] Everything a customer may ask about the {topic}. " * 6
    prompt = [
        {"role": "user", "parts": [{"type": "text", "content": f"{context}\nQuestion: tell me about the {topic}."}]}
    ]
    answer = [
        {
            "role": "assistant",
            "finish_reason": "stop",
            "parts": [{"type": "text", "content": f"Here is a short summary of the {topic}: " + "details. " * 25}],
        }
    ]
    return json.dumps(prompt), json.dumps(answer)


def _span(rng: random.Random, now_ns: int, response_marker: str) -> Span:
    provider, model, response_model, cache_read, cache_write = rng.choice(_MODELS)
    prompt, answer = _messages(rng)
    input_tokens = len(prompt) // 4 + cache_read + cache_write
    start = now_ns - rng.randint(1, 60) * 10**9
    attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": provider,
        "gen_ai.request.model": model,
        "gen_ai.response.model": response_model,
        "gen_ai.response.id": response_marker,
        "gen_ai.response.finish_reasons": ["stop"],
        "gen_ai.usage.input_tokens": input_tokens,
        "gen_ai.usage.output_tokens": len(answer) // 4,
        "gen_ai.request.temperature": 0.2,
        "user.id": f"user-{rng.randint(1, 500):04d}",
        "session.id": f"sess-{rng.getrandbits(40):010x}",
        "gen_ai.input.messages": prompt,
        "gen_ai.output.messages": answer,
    }
    if cache_read:
        attributes["gen_ai.usage.cache_read.input_tokens"] = cache_read
    if cache_write:
        attributes["gen_ai.usage.cache_creation.input_tokens"] = cache_write
    return Span(
        trace_id=os.urandom(16),
        span_id=os.urandom(8),
        name=f"chat {model}",
        kind=Span.SPAN_KIND_CLIENT,
        start_time_unix_nano=start,
        end_time_unix_nano=start + rng.randint(300, 4000) * 10**6,
        attributes=[_kv(k, v) for k, v in attributes.items()],
    )


@dataclass
class Template:
    """One serialized request whose ids are patched per send; only the request-number bytes change."""

    body: bytes
    spans: int
    id_offsets: list[int]  # where a 4-byte request number goes (trace, span and parent ids)
    hex_offsets: list[int]  # where 8 hex chars of the request number go (response ids)

    def render(self, request_no: int) -> bytes:
        buf = bytearray(self.body)
        raw, text = request_no.to_bytes(4, "big"), f"{request_no:08x}".encode()
        for offset in self.id_offsets:
            buf[offset : offset + 4] = raw
        for offset in self.hex_offsets:
            buf[offset : offset + 8] = text
        return bytes(buf)


def _locate(body: bytes, marker: bytes) -> int:
    offset = body.find(marker)
    if offset < 0 or body.find(marker, offset + 1) >= 0:
        raise ValueError("id marker not unique in the template")
    return offset


def _request(spans: list[Span]) -> bytes:
    resource = Resource(attributes=[_kv("service.name", "bench-app"), _kv("deployment.environment.name", "bench")])
    scope = ScopeSpans(scope=InstrumentationScope(name="opentelemetry.util.genai.handler"), spans=spans)
    return ExportTraceServiceRequest(
        resource_spans=[ResourceSpans(resource=resource, scope_spans=[scope])]
    ).SerializeToString()


def build_template(batch: int, seed: int = 1) -> Template:
    """Random markers stand where ids go; once located they are rewritten to nonce + index."""
    rng, nonce = random.Random(seed * 1000 + batch), os.urandom(8)
    markers = [f"{rng.getrandbits(96):024x}" for _ in range(batch)]
    spans = [_span(rng, time.time_ns(), "chatcmpl-" + m) for m in markers]
    for i, span in enumerate(spans):
        if i % SPANS_PER_TRACE:
            span.parent_span_id = os.urandom(8)
    body = bytearray(_request(spans))
    ids, hexes = [], []
    for i, (span, marker) in enumerate(zip(spans, markers, strict=True)):
        trace_no = i // SPANS_PER_TRACE
        patches = [
            (span.trace_id, nonce + bytes(4) + trace_no.to_bytes(4, "big"), 8),
            (span.span_id, bytes(4) + i.to_bytes(4, "big"), 0),
        ]
        if span.parent_span_id:
            patches.append((span.parent_span_id, bytes(4) + (i - i % SPANS_PER_TRACE).to_bytes(4, "big"), 0))
        for old, new, at in patches:
            offset = _locate(bytes(body), old)
            body[offset : offset + len(new)] = new
            ids.append(offset + at)
        offset = _locate(bytes(body), marker.encode())
        body[offset : offset + 24] = f"{nonce.hex()[:8]}00000000{i:08x}".encode()
        hexes.append(offset + 8)
    return Template(bytes(body), batch, ids, hexes)
