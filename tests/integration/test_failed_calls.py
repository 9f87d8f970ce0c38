"""Failed LLM calls over real OTLP/HTTP and the real engine (issue #20, items 2 and 3).

A failed call may carry no GenAI attribute at all (OpenLIT 1.45 on an Anthropic 429) and may be
traced by two instrumentations at once with no response id to tie the copies: every total —
summary, raw and rolled-up series, the trace list — must count it once, and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

from schemas.clickhouse import metrics
from tests.conftest import Running, run_detectors
from tests.integration.test_metrics_detector import hours_ago, points_by_key, series
from tests.spans import any_value

HAIKU = "claude-3-5-haiku-20241022"
OPENLIT = "openlit.instrumentation.anthropic"
SDK = "anthropic.sdk"  # a provider SDK's own tracing: GenAI attributes, its own scope
MS = 10**6


@dataclass
class Failed:
    """One failed call span: `bare` ones carry nothing but name, scope, status and an exception."""

    trace: int
    span: int
    start_ms: int
    end_ms: int
    scope: str = OPENLIT
    parent: int = 0
    model: str = HAIKU
    bare: bool = True
    attributes: dict[str, object] = field(default_factory=dict)

    def to_span(self, base_ns: int) -> Span:
        attrs = {} if self.bare else {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "anthropic",
                                      "gen_ai.request.model": self.model, "error.type": "429"}
        return Span(
            trace_id=self.trace.to_bytes(16, "big"), span_id=self.span.to_bytes(8, "big"),
            parent_span_id=self.parent.to_bytes(8, "big") if self.parent else b"", name=f"chat {self.model}",
            start_time_unix_nano=base_ns + self.start_ms * MS, end_time_unix_nano=base_ns + self.end_ms * MS,
            kind=Span.SPAN_KIND_CLIENT, status=Status(code=Status.STATUS_CODE_ERROR, message="rate limited"),
            attributes=[KeyValue(key=k, value=any_value(v)) for k, v in {**attrs, **self.attributes}.items()],
            events=[Span.Event(name="exception", time_unix_nano=base_ns + self.end_ms * MS, attributes=[
                KeyValue(key="exception.type", value=any_value("anthropic.RateLimitError"))])],
        )


def export(base_ns: int, *spans: Failed) -> bytes:
    by_scope: dict[str, list[Span]] = {}
    for span in spans:
        by_scope.setdefault(span.scope, []).append(span.to_span(base_ns))
    resource = Resource(attributes=[KeyValue(key="service.name", value=any_value("support-bot"))])
    scopes = [ScopeSpans(scope=InstrumentationScope(name=name), spans=found) for name, found in by_scope.items()]
    return ExportTraceServiceRequest(resource_spans=[ResourceSpans(resource=resource, scope_spans=scopes)]
                                     ).SerializeToString()


# trace → (its failed spans, the failed calls they are)
CASES: dict[int, tuple[tuple[Failed, ...], int]] = {
    # OpenLIT alone: a span with no attributes is one failed call of its model and provider
    1: ((Failed(1, 1, 0, 400),), 1),
    # the SDK's own span around OpenLIT's: one call
    2: ((Failed(2, 1, 0, 500, SDK, bare=False), Failed(2, 2, 10, 490, parent=1)), 1),
    # parent and child whose clocks disagree (the child "after" its parent): still one call
    3: ((Failed(3, 1, 0, 300, SDK, bare=False), Failed(3, 2, 400, 700, parent=1)), 1),
    # two instrumentations' sibling spans of the same moment: one call
    4: ((Failed(4, 1, 0, 500, SDK, bare=False), Failed(4, 2, 20, 480)), 1),
    # the app's own retry, one attempt after the other: two calls
    5: ((Failed(5, 1, 0, 300), Failed(5, 2, 1300, 1600)), 2),
    # a fan-out of one instrumentation failing at once: two calls
    6: ((Failed(6, 1, 0, 500), Failed(6, 2, 5, 505)), 2),
    # nested spans of two models are two calls
    7: ((Failed(7, 1, 0, 500, SDK, bare=False, model="claude-3-5-sonnet-20241022"), Failed(7, 2, 10, 490, parent=1)),
        2),
    # both copies twice (an exporter retry) and in two requests, the SDK's first
    8: ((Failed(8, 1, 0, 500, SDK, bare=False), Failed(8, 2, 10, 490, parent=1)), 1),
}
TOTAL = sum(calls for _, calls in CASES.values())


@pytest.fixture
def failed(running: Running) -> tuple[Running, int]:
    base = hours_ago(3)
    for trace, (spans, _) in CASES.items():
        for span in spans * (2 if trace == 8 else 1):
            running.send(export(base + trace * 60_000 * MS, span))
    return running, base


def window(base: int) -> dict[str, float]:
    return {"from": base / 1e9 - 60, "to": base / 1e9 + 3000}


def test_failed_calls_count_once_in_the_summary(failed: tuple[Running, int]) -> None:
    running, base = failed
    total = running.get("/api/v1/metrics/summary", **window(base)).json()["total"]
    assert (total["requests"], total["errors"]) == (TOTAL, TOTAL)
    groups = running.get("/api/v1/metrics/summary", group_by="provider", **window(base)).json()["groups"]
    assert {g["key"]["provider"]: g["requests"] for g in groups} == {"anthropic": TOTAL}
    groups = running.get("/api/v1/metrics/summary", group_by="model", **window(base)).json()["groups"]
    assert {g["key"]["model"]: g["requests"] for g in groups} == {HAIKU: TOTAL - 1, "claude-3-5-sonnet-20241022": 1}


def test_failed_calls_count_once_in_raw_and_rolled_up_series(failed: tuple[Running, int]) -> None:
    running, base = failed
    expected = {trace: calls for trace, (_, calls) in CASES.items()}
    raw = points_by_key(series(running, metric="requests,errors", bucket="minute", group_by="user", **window(base)))
    assert sorted((p["requests"], p["errors"]) for p in raw[""]) == sorted((n, n) for n in expected.values())
    run_detectors(running, "metrics")
    hourly = points_by_key(series(running, metric="requests,errors", bucket="hour", **window(base)))[""]
    assert (sum(p["requests"] for p in hourly), sum(p["errors"] for p in hourly)) == (TOTAL, TOTAL)
    by_model = points_by_key(series(running, metric="requests", bucket="hour", group_by="model", **window(base)))
    assert sum(p["requests"] for p in by_model[HAIKU]) == TOTAL - 1


@pytest.mark.parametrize("sort", ["start_time", "llm_calls", "cost"])
def test_the_trace_list_counts_each_failed_call_once(failed: tuple[Running, int], sort: str) -> None:
    running, base = failed
    traces = running.get("/api/v1/traces", sort=sort, **window(base)).json()["traces"]
    assert {int(t["trace_id"], 16): t["llm_calls"] for t in traces} == {
        trace: calls for trace, (_, calls) in CASES.items()}


def test_a_failed_copy_arriving_after_a_run_in_the_next_minute_is_not_a_second_call(running: Running) -> None:
    """The rollup made the first copy's minute a call; the second copy, in the next minute and in a
    later request, is the copy kept: the first copy's minute must be made again without it."""
    edge = hours_ago(2) // (60_000 * MS) * 60_000 * MS
    running.send(export(edge, Failed(9, 2, -200, 300, SDK, bare=False)))
    run_detectors(running, "metrics")
    store = running.service.store
    (between,), = store.query("SELECT max(ingested_at) FROM {db}.spans", {}, "test_between")
    # kept for its token count, so the call moves to the next minute
    running.send(export(edge, Failed(9, 1, 100, 290, parent=2, attributes={"gen_ai.usage.input_tokens": 12})))
    metrics.refresh_rollup(store, "default", between.replace(tzinfo=UTC), datetime.fromtimestamp(0, UTC))
    span = {"from": (edge - 3600 * 10**9) / 1e9, "to": (edge + 3600 * 10**9) / 1e9}
    minutes = points_by_key(series(running, metric="requests,errors", bucket="minute", **span))[""]
    assert (sum(p["requests"] for p in minutes), sum(p["errors"] for p in minutes)) == (1, 1)
    hours = points_by_key(series(running, metric="requests,input_tokens", bucket="hour", **span))[""]
    assert (sum(p["requests"] for p in hours), sum(p["input_tokens"] for p in hours)) == (1, 12)
