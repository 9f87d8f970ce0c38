"""Build OTLP requests of OTel GenAI call spans with chosen values, for tests that need exact figures."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

PROTOBUF = {"Content-Type": "application/x-protobuf"}


@dataclass
class Call:
    trace: int
    span: int = 1
    model: str = "gpt-4o-mini"
    start_ns: int = field(default_factory=time.time_ns)
    duration_ms: float = 500.0
    input_tokens: int = 100
    output_tokens: int = 10
    cache_read_tokens: int = 0
    user: str = ""
    session: str = ""
    error: bool = False
    cache_hit: bool = False
    ttft_ms: float | None = None
    response_id: str = ""
    response_model: str = ""
    fingerprint: str = ""
    finish_reason: str = "stop"
    service: str = "svc"
    tags: tuple[str, ...] = ()
    extra: dict[str, object] = field(default_factory=dict)

    def attributes(self) -> dict[str, object]:
        attrs: dict[str, object] = {
            "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": self.model,
            "gen_ai.usage.input_tokens": self.input_tokens, "gen_ai.usage.output_tokens": self.output_tokens,
            "gen_ai.response.finish_reasons": [self.finish_reason],
        }
        optional = {
            "gen_ai.usage.cache_read.input_tokens": self.cache_read_tokens, "user.id": self.user,
            "session.id": self.session, "gen_ai.response.id": self.response_id,
            "gen_ai.response.model": self.response_model, "gen_ai.openai.response.system_fingerprint": self.fingerprint,
            "llmpulse.cache_hit": self.cache_hit, "gen_ai.response.time_to_first_chunk": (
                self.ttft_ms / 1000 if self.ttft_ms is not None else None),
            "langfuse.trace.tags": list(self.tags),
        }
        attrs.update({k: v for k, v in optional.items() if v})
        attrs.update(self.extra)
        return attrs

    def to_span(self) -> Span:
        end = self.start_ns + int(self.duration_ms * 1e6)
        status = Status(code=Status.STATUS_CODE_ERROR if self.error else Status.STATUS_CODE_OK)
        return Span(
            trace_id=self.trace.to_bytes(16, "big"), span_id=self.span.to_bytes(8, "big"), name=f"chat {self.model}",
            start_time_unix_nano=self.start_ns, end_time_unix_nano=end, kind=Span.SPAN_KIND_CLIENT, status=status,
            attributes=[KeyValue(key=k, value=any_value(v)) for k, v in self.attributes().items()],
        )


def any_value(value: object) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, list | tuple):
        return AnyValue(array_value=ArrayValue(values=[any_value(v) for v in value]))
    return AnyValue(string_value=str(value))


def export_calls(*calls: Call, service: str | None = None) -> bytes:
    """One request; calls are grouped under one resource whose service.name is the first call's."""
    resource = Resource(attributes=[KeyValue(key="service.name", value=any_value(service or calls[0].service))])
    scope = ScopeSpans(spans=[c.to_span() for c in calls])
    return ExportTraceServiceRequest(resource_spans=[ResourceSpans(resource=resource, scope_spans=[scope])]
                                     ).SerializeToString()
