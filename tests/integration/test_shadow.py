"""Shadow mode end to end: the real OpenTelemetry SDK exporter sends an app's calls and the shadow
calls of a candidate model (same trace, `llmpulse.shadow_of` = the primary's span id) into a
running llmpulse; the shadow report pairs them, and the app's KPIs leave them out but its spend
does not. Times are explicit (two hours before the test's start, on a minute boundary)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import SpanKind, Status, StatusCode

from schemas.shadow_fields import SHADOW_OF_ATTRIBUTE
from tests.conftest import Running, api, run_detectors

PRIMARY, CANDIDATE = "gpt-4o-mini", "gpt-4o"
CONTEXT = "Context: Paris is the capital of France. The Seine flows through Paris."
MS = 1_000_000


@dataclass(frozen=True)
class Pair:
    primary_answer: str
    candidate_answer: str
    primary_ms: int
    candidate_ms: int
    candidate_error: bool = False
    primary_sent: bool = True


def _chat(tracer, model: str, start_ns: int, duration_ms: int, answer: str, extra: dict,
          error: bool = False) -> object:
    span = tracer.start_span(f"chat {model}", kind=SpanKind.CLIENT, start_time=start_ns)
    span.set_attributes({
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": model,
        "gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 100,
        "gen_ai.input.messages": json.dumps([{"role": "system", "content": CONTEXT},
                                             {"role": "user", "content": "What is the capital of France?"}]),
        "gen_ai.output.messages": json.dumps([{"role": "assistant", "content": answer}]), **extra})
    if error:
        span.set_status(Status(StatusCode.ERROR, "overloaded"))
    span.end(end_time=start_ns + duration_ms * MS)
    return span


def send_trace(url: str, start_ns: int, pair: Pair | None, ids: IdGenerator | None = None) -> tuple[str, str, str]:
    """One request of the app: a root span, the primary call, and (for a pair) the shadow call
    after it; its ids from `ids` when given (random otherwise). Returns (trace id, primary span id,
    candidate span id)."""
    provider = TracerProvider(resource=Resource.create({"service.name": "support-bot"}), id_generator=ids)
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=url + "/v1/traces")))
    tracer = provider.get_tracer("app", "1.0")
    root = tracer.start_span("answer", start_time=start_ns)
    candidate_id = ""
    with _current(root):
        primary = _primary(tracer, start_ns, pair)
        primary_id = format(primary.get_span_context().span_id, "016x")
        if pair is not None:
            shadow_of = primary_id if pair.primary_sent else "00000000000000ab"
            shadow = _chat(tracer, CANDIDATE, start_ns + 2 * MS, pair.candidate_ms, pair.candidate_answer,
                           {SHADOW_OF_ATTRIBUTE: shadow_of.upper()}, pair.candidate_error)
            candidate_id = format(shadow.get_span_context().span_id, "016x")
    root.end(end_time=start_ns + 9000 * MS)
    trace_id = format(root.get_span_context().trace_id, "032x")
    provider.shutdown()
    return trace_id, primary_id, candidate_id


def _current(span):
    from opentelemetry import trace
    return trace.use_span(span, end_on_exit=False)


def _primary(tracer, start_ns: int, pair: Pair | None):
    answer = pair.primary_answer if pair else "Paris."
    ms = pair.primary_ms if pair else 200
    if pair is not None and not pair.primary_sent:  # made but never exported: its shadow stays unpaired
        return tracer.start_span("never sent", start_time=start_ns)
    return _chat(tracer, PRIMARY, start_ns + MS, ms, answer, {})


PAIRS = [
    Pair("Paris is the capital of France.", "Paris is the capital of France.", 100, 400),
    Pair("The capital of France is Paris.", "The capital of France is Paris.", 200, 600),
    Pair("Paris is the capital of France.", "Berlin, on the Spree, I would say.", 300, 800, candidate_error=True),
    Pair("", "Lyon.", 0, 5000, primary_sent=False),
]


@pytest.fixture
def shadow_traffic(running: Running) -> dict:
    base = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=2)
    base_ns = int(base.timestamp() * 1e9)
    sent = [send_trace(running.otlp_url, base_ns + i * 10_000 * MS, pair) for i, pair in enumerate(PAIRS)]
    plain = send_trace(running.otlp_url, base_ns + 50_000 * MS, None)
    running.flush()
    window = {"from": (base - timedelta(hours=1)).isoformat(), "to": (base + timedelta(hours=1)).isoformat()}
    return {"sent": sent, "plain": plain, "window": window}


def test_shadow_report_pairs_calls_and_lists_the_unpaired(running: Running, shadow_traffic: dict) -> None:
    window, sent = shadow_traffic["window"], shadow_traffic["sent"]
    report = api(running, "GET", "/shadow", **window).json()
    (pair,) = report["pairs"]
    assert (pair["primary_model"], pair["candidate_model"], pair["pairs"]) == (PRIMARY, CANDIDATE, 3)
    costs = span_costs(running, sent[:3])
    deltas = [costs[c] - costs[p] for _, p, c in sent[:3]]
    assert pair["cost_delta"]["mean"] == pytest.approx(sum(deltas) / 3) and deltas[0] > 0
    assert pair["cost_delta"]["total"] == pytest.approx(sum(deltas))
    assert pair["latency_delta_ms"] == {"mean": pytest.approx(400.0), "median": pytest.approx(400.0)}
    divergent = pair["most_divergent"]
    assert divergent[0]["trace_id"] == sent[2][0] and divergent[0]["candidate_span_id"] == sent[2][2]
    assert divergent[0]["agreement"] < 0.2 < divergent[1]["agreement"] == divergent[2]["agreement"] == 1.0
    assert divergent[0]["candidate_answer"].startswith("Berlin") and divergent[0]["primary_answer"].startswith("Paris")
    assert pair["agreement"] == pytest.approx((2 + divergent[0]["agreement"]) / 3, abs=1e-4)
    assert pair["judge_preference"] is None and pair["groundedness"]["primary"] is None
    verdict = {"trace_id": sent[0][0], "span_id": sent[0][2], "name": "shadow_preference", "label": "candidate"}
    assert api(running, "POST", "/scores", verdict).status_code == 201
    judged = api(running, "GET", "/shadow", **window).json()["pairs"][0]["judge_preference"]
    assert judged == {"primary": 0, "candidate": 1, "tie": 0, "judged": 1, "candidate_share": 1.0,
                      "sources": {"judge": 0, "app": 1, "human": 0},
                      "judge_agreement": {"pairs": 0, "agreed": 0, "rate": None}}
    assert report["unpaired"] == [{"trace_id": sent[3][0], "span_id": sent[3][2], "shadow_of": "00000000000000ab",
                                   "candidate_model": CANDIDATE}]
    none = api(running, "GET", "/shadow", service="another", **window).json()
    assert none["pairs"] == [] and none["unpaired"] == []


def span_costs(running: Running, sent: list[tuple[str, str, str]]) -> dict[str, float]:
    costs = {}
    for trace_id, *_ in sent:
        for span in api(running, "GET", f"/traces/{trace_id}").json()["spans"]:
            costs[span["span_id"]] = span["cost_total"]
    return costs


def test_shadow_calls_count_in_spend_but_not_in_the_apps_kpis(running: Running, shadow_traffic: dict) -> None:
    window = shadow_traffic["window"]
    every = api(running, "GET", "/metrics/summary", shadow="include", **window).json()["total"]
    summary = api(running, "GET", "/metrics/summary", **window).json()["total"]
    only = api(running, "GET", "/metrics/summary", shadow="only", **window).json()["total"]
    own = api(running, "GET", "/metrics/summary", shadow="exclude", **window).json()["total"]
    assert (every["requests"], summary["requests"], only["requests"], own["requests"]) == (8, 4, 4, 4)
    assert (summary["errors"], only["errors"], summary["shadow_calls"]) == (0, 1, 4)
    assert summary["cost"]["total"] == pytest.approx(every["cost"]["total"])
    assert summary["cost"]["total"] == pytest.approx(own["cost"]["total"] + only["cost"]["total"])
    assert summary["latency_ms"]["p99"] <= 300 < only["latency_ms"]["p50"]
    metrics = "requests,errors,cost_total,latency_p99_ms"
    raw = series_totals(running, metrics, window)
    run_detectors(running, "metrics")
    rolled = series_totals(running, metrics, window)
    for totals in (raw, rolled):  # from raw calls, then from the rollup
        assert (totals["requests"], totals["errors"]) == (4, 0)
        assert totals["cost_total"] == pytest.approx(every["cost"]["total"])
        assert totals["latency_p99_ms"] <= 300
    only_rolled = series_totals(running, metrics, {**window, "shadow": "only"})
    assert (only_rolled["requests"], only_rolled["errors"]) == (4, 1) and only_rolled["latency_p99_ms"] > 300


def series_totals(running: Running, metrics: str, window: dict) -> dict[str, float]:
    body = api(running, "GET", "/metrics/timeseries", metric=metrics, bucket="day", **window).json()
    (series,) = body["series"]
    totals: dict[str, float] = {}
    for point in series["points"]:
        for name in metrics.split(","):
            value = point[name] or 0
            totals[name] = max(totals.get(name, 0), value) if name.startswith("latency") else \
                totals.get(name, 0) + value
    return totals


def test_trace_list_filter_and_trace_view_mark_shadow_calls(running: Running, shadow_traffic: dict) -> None:
    window, sent = shadow_traffic["window"], shadow_traffic["sent"]
    listed = {t["trace_id"] for t in api(running, "GET", "/traces", shadow="only", **window).json()["traces"]}
    assert listed == {trace_id for trace_id, *_ in sent}
    plain = api(running, "GET", "/traces", shadow="exclude", **window).json()["traces"]
    assert [t["trace_id"] for t in plain] == [shadow_traffic["plain"][0]]
    assert api(running, "GET", "/traces", shadow="sometimes", **window).status_code == 400
    spans = {s["span_id"]: s for s in api(running, "GET", f"/traces/{sent[0][0]}").json()["spans"]}
    assert spans[sent[0][2]]["shadow_of"] == sent[0][1] and spans[sent[0][1]]["shadow_of"] == ""


def test_a_shadow_of_that_is_no_span_id_is_refused_and_the_call_kept(running: Running) -> None:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=running.otlp_url + "/v1/traces")))
    start = int((datetime.now(UTC) - timedelta(hours=1)).timestamp() * 1e9)
    span = _chat(provider.get_tracer("app"), CANDIDATE, start, 100, "Paris.", {SHADOW_OF_ATTRIBUTE: "primary-call"})
    provider.shutdown()
    running.flush()
    (stored,) = api(running, "GET", f"/traces/{format(span.get_span_context().trace_id, '032x')}").json()["spans"]
    assert stored["shadow_of"] == "" and stored["request_model"] == CANDIDATE
    assert stored["attributes"]["llmpulse.refused"] == (
        "llmpulse.shadow_of='primary-call' is not the span id of another call (16 hex characters)")


def test_shadow_calls_are_scored_with_their_primary_but_kept_out_of_the_hallucination_rate(
        running: Running, shadow_traffic: dict) -> None:
    window = shadow_traffic["window"]
    assert api(running, "PUT", "/projects/default", {"eval_sample_rate": 1.0}).status_code == 200
    run_detectors(running, "hallucination")
    scored = running.service.store.query(
        "SELECT countIf(s.shadow_of != ''), countIf(s.shadow_of = '') FROM {db}.evaluations AS e FINAL "
        "JOIN (SELECT DISTINCT trace_id, span_id, shadow_of FROM {db}.spans) AS s "
        "ON s.trace_id = e.trace_id AND s.span_id = e.span_id", {}, "test")[0]
    assert scored == (4, 4)
    rate = api(running, "GET", "/quality/hallucination", **window).json()["total"]
    assert rate["sampled"] == 4
    pair = api(running, "GET", "/shadow", **window).json()["pairs"][0]
    assert pair["groundedness"]["primary_scored"] == pair["groundedness"]["candidate_scored"] == 3
    assert pair["groundedness"]["candidate"] < pair["groundedness"]["primary"]  # Berlin is not in the context
