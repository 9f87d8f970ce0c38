"""`GET /metrics` against the real service: calls sent through the real OpenTelemetry SDK exporter,
rolled up by the metrics detector, read back with prometheus_client's own parsers and held equal to
the summary API's figures over the same calls; bounded labels; counters that survive retention;
budget and hallucination gauges equal to their APIs."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
import yaml
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

from schemas.clickhouse.histograms import BOUNDS_SECONDS
from schemas.shadow_fields import SHADOW_OF_ATTRIBUTE
from tests.conftest import Running, api, make_settings, run_detector, run_detectors, start_service
from tests.scrape import OPENMETRICS, Scrape, scrape
from tests.spans import Call

REPO = Path(__file__).resolve().parents[2]
MS = 1_000_000  # nanoseconds
DAY_NS = 86_400 * 10**9


@dataclass
class SdkCall:
    """One LLM call as an app's instrumentation records it: a CLIENT span under the request's span."""

    model: str
    duration_s: float
    provider: str = "openai"
    error: bool = False
    input_tokens: int = 1000
    output_tokens: int = 50
    cache_read: int = 0
    ttft_s: float | None = None
    cache_hit: bool = False
    shadow_of_previous: bool = False
    extra: dict[str, object] = field(default_factory=dict)

    def attributes(self) -> dict[str, object]:
        attrs: dict[str, object] = {
            "gen_ai.operation.name": "chat", "gen_ai.provider.name": self.provider, "gen_ai.request.model": self.model,
            "gen_ai.usage.input_tokens": self.input_tokens, "gen_ai.usage.output_tokens": self.output_tokens,
            "user.id": "user-42", **self.extra}
        if self.cache_read:
            attrs["gen_ai.usage.cache_read.input_tokens"] = self.cache_read
        if self.ttft_s is not None:
            attrs["gen_ai.response.time_to_first_chunk"] = self.ttft_s
        if self.cache_hit:
            attrs["llmpulse.cache_hit"] = True
        return attrs


def export_with_sdk(otlp_url: str, service: str, calls: list[SdkCall], start_ns: int) -> None:
    """Each call in a trace of its own (a shadow call in its primary's trace), spans timed exactly."""
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=otlp_url + "/v1/traces")))
    tracer = provider.get_tracer("tests.prometheus", "1.0")
    root, previous = None, None
    for n, call in enumerate(calls):
        begin = start_ns + n * 1000 * MS
        if not call.shadow_of_previous:
            if root is not None:
                root.end(end_time=begin)
            root = tracer.start_span("handle_request", start_time=begin)
        context = trace.set_span_in_context(root)
        span = tracer.start_span(f"chat {call.model}", context=context, kind=SpanKind.CLIENT, start_time=begin + MS)
        attrs = call.attributes()
        if call.shadow_of_previous:
            attrs[SHADOW_OF_ATTRIBUTE] = format(previous.get_span_context().span_id, "016x")
        span.set_attributes(attrs)
        if call.error:
            span.set_status(Status(StatusCode.ERROR, "500 from the provider"))
        span.end(end_time=begin + MS + int(call.duration_s * 1e9))
        previous = span
    root.end(end_time=start_ns + len(calls) * 1000 * MS)
    provider.shutdown()


CHECKOUT = [
    SdkCall("gpt-4o-mini", 0.3, ttft_s=0.2, cache_read=512, input_tokens=2048),
    SdkCall("gpt-4.1-mini", 0.9, shadow_of_previous=True),  # a candidate's shadow call: spend, no request
    SdkCall("gpt-4o-mini", 1.5, error=True, output_tokens=0),
    SdkCall("gpt-4o-mini", 3.0, ttft_s=1.1),
    SdkCall("gpt-4o-mini", 0.04, cache_hit=True, input_tokens=0, output_tokens=0),
]
SEARCH = [SdkCall("claude-3-5-haiku", 0.08, provider="anthropic"), SdkCall("claude-3-5-haiku", 45.0,
                                                                          provider="anthropic", ttft_s=0.6)]


@pytest.fixture(scope="module")
def sent(tmp_path_factory: pytest.TempPathFactory, chdb_dsn: str) -> Iterator[tuple[Running, dict[str, str]]]:
    running = start_service(make_settings(tmp_path_factory.mktemp("prometheus"), chdb_dsn))
    start = time.time_ns() - 10 * 60 * 10**9
    export_with_sdk(running.otlp_url, "checkout", CHECKOUT, start)
    export_with_sdk(running.otlp_url, "search", SEARCH, start + 30 * 10**9)
    running.flush()
    run_detectors(running, "metrics")
    window = {"from": str((start - 3600 * 10**9) / 1e9), "to": str(time.time() + 3600)}
    yield running, window
    running.service.stop()


def summary_by_model(running: Running, window: dict[str, str]) -> dict[str, dict]:
    groups = running.get("/api/v1/metrics/summary", group_by="model", **window).json()["groups"]
    return {g["key"]["model"]: g for g in groups}


def test_call_counters_equal_the_summary_api(sent: tuple[Running, dict[str, str]]) -> None:
    running, window = sent
    metrics, summary = scrape(running.ui_url), summary_by_model(running, window)
    assert set(summary) == metrics.label_values("llmpulse_llm_tokens_total", "model")
    for model, group in summary.items():
        assert metrics.value("llmpulse_llm_requests_total", model=model) == group["requests"], model
        assert metrics.value("llmpulse_llm_requests_total", model=model, status="error") == group["errors"], model
        assert metrics.value("llmpulse_llm_shadow_requests_total", model=model) == group["shadow_calls"], model
        for kind in ("input", "output", "cache_read", "cache_write"):
            assert metrics.value("llmpulse_llm_tokens_total", model=model, type=kind) == group[f"{kind}_tokens"]
        assert metrics.value("llmpulse_llm_cost_usd_total", model=model) == pytest.approx(group["cost"]["total"],
                                                                                          rel=1e-9, abs=1e-15)
        unpriced = metrics.value("llmpulse_llm_unpriced_requests_total", model=model)
        assert unpriced == group["cost"]["unpriced_requests"], model
        hits = metrics.value("llmpulse_llm_app_cache_hits_total", model=model)
        assert hits == round((group["cache_hit_rate"] or 0) * group["requests"]), model
    assert summary["gpt-4.1-mini"]["requests"] == 0 and summary["gpt-4.1-mini"]["shadow_calls"] == 1
    assert metrics.value("llmpulse_llm_requests_total", model="gpt-4o-mini", service="checkout") == 4
    assert metrics.value("llmpulse_llm_requests_total", provider="anthropic", service="search") == 2


def test_latency_and_ttft_histograms_count_every_own_call(sent: tuple[Running, dict[str, str]]) -> None:
    running, _ = sent
    metrics = scrape(running.ui_url)
    own = [c for c in CHECKOUT + SEARCH if not c.shadow_of_previous]
    histogram = "llmpulse_llm_request_duration_seconds"
    assert metrics.value(f"{histogram}_count") == len(own)
    assert metrics.value(f"{histogram}_sum") == pytest.approx(sum(c.duration_s for c in own), rel=1e-6)
    for bound in BOUNDS_SECONDS:
        expected = sum(c.duration_s <= bound for c in own)
        assert metrics.value(f"{histogram}_bucket", le=repr(bound)) == expected, bound
    assert metrics.value(f"{histogram}_bucket", le="+Inf") == len(own)
    ttft = "llmpulse_llm_time_to_first_token_seconds"
    streamed = [c.ttft_s for c in own if c.ttft_s is not None]
    assert metrics.value(f"{ttft}_count") == len(streamed)
    assert metrics.value(f"{ttft}_sum") == pytest.approx(sum(streamed), rel=1e-6)
    assert metrics.value(f"{ttft}_bucket", le="0.25", model="gpt-4o-mini") == 1
    assert metrics.value(f"{ttft}_bucket", le="1.0", model="claude-3-5-haiku") == 1


def test_openmetrics_is_chosen_by_the_accept_header(sent: tuple[Running, dict[str, str]]) -> None:
    running, _ = sent
    answer = requests.get(running.ui_url + "/metrics", headers={"Accept": OPENMETRICS}, timeout=30)
    assert answer.headers["Content-Type"].startswith("application/openmetrics-text; version=1.0.0")
    assert answer.text.endswith("# EOF\n")
    plain = requests.get(running.ui_url + "/metrics", headers={"Accept": "text/plain"}, timeout=30)
    assert plain.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert Scrape(answer.text, openmetrics=True).value("llmpulse_llm_requests_total") == Scrape(
        plain.text).value("llmpulse_llm_requests_total") == 6
    gzipped = requests.get(running.ui_url + "/metrics", headers={"Accept-Encoding": "gzip"}, timeout=30)
    assert gzipped.headers["Content-Encoding"] == "gzip" and "llmpulse_llm_requests_total" in gzipped.text


def test_labels_are_the_busiest_values_and_other_never_a_user(tmp_path, chdb_dsn: str) -> None:
    running = start_service(make_settings(tmp_path, chdb_dsn, prometheus_top_n=2))
    try:
        now, calls, n = time.time_ns() - 60 * 10**9, [], 0
        for rank, model in enumerate(["m-a", "m-b", "m-c", "m-d", "m-e"]):
            for _ in range(5 - rank):  # m-a 5 calls, m-b 4, … m-e 1
                n += 1
                calls.append(Call(n, model=model, start_ns=now + n * MS, user=f"user-{n}", service=f"svc-{n % 3}"))
        for service in ("svc-0", "svc-1", "svc-2"):  # a request's calls share its resource's service name
            running.send_calls(*[c for c in calls if c.service == service])
        run_detector(running, "metrics")
        metrics = scrape(running.ui_url)
        assert metrics.label_values("llmpulse_llm_requests_total", "model") == {"m-a", "m-b", "other"}
        assert metrics.value("llmpulse_llm_requests_total", model="other") == 3 + 2 + 1
        assert metrics.value("llmpulse_llm_requests_total") == 15
        assert len(metrics.label_values("llmpulse_llm_requests_total", "service")) == 3  # svc-0, svc-1, other
        assert "other" in metrics.label_values("llmpulse_llm_requests_total", "service")
        labels = {name for samples in metrics.samples.values() for s in samples for name in s.labels}
        values = {v for samples in metrics.samples.values() for s in samples for v in s.labels.values()}
        assert "user" not in labels and not any(v.startswith("user-") for v in values)
    finally:
        running.service.stop()


def test_counters_keep_what_retention_deletes(running: Running) -> None:
    metadata = running.service.metadata
    metadata.ensure_project("short")
    metadata.update_project("short", retention_days=3)
    key = {"Authorization": "Bearer " + metadata.create_key("short", "k").key}
    now = time.time_ns()
    running.send_calls(Call(1, start_ns=now - 5 * DAY_NS, input_tokens=7), headers=key)
    running.send_calls(Call(2, start_ns=now - DAY_NS, input_tokens=11), Call(3, start_ns=now), headers=key)
    for _ in range(6):  # the backfill goes one day further back per run
        run_detector(running, "metrics")
    before = scrape(running.ui_url)
    assert before.value("llmpulse_llm_requests_total", project="short") == 3
    run_detector(running, "retention")
    spans = running.get("/api/v1/metrics/summary", project="short", **{"from": (now - 10 * DAY_NS) / 1e9}).json()
    assert spans["total"]["requests"] == 2  # the old call is gone from storage…
    after = scrape(running.ui_url)  # …and still counted
    for name in ("llmpulse_llm_requests_total", "llmpulse_llm_tokens_total", "llmpulse_llm_cost_usd_total",
                 "llmpulse_llm_request_duration_seconds_count"):
        assert after.value(name, project="short") == before.value(name, project="short"), name
    run_detector(running, "retention")  # a second run carries nothing twice
    running.send_calls(Call(4, start_ns=now + MS), headers=key)
    run_detector(running, "metrics")
    later = scrape(running.ui_url)
    assert later.value("llmpulse_llm_requests_total", project="short") == 4
    assert later.value("llmpulse_llm_tokens_total", project="short", type="input") == 7 + 11 + 100 + 100


def test_budget_gauges_are_the_budget_status(running: Running) -> None:
    running.send_calls(Call(1, model="gpt-4o", input_tokens=200_000, output_tokens=10_000))
    budget = api(running, "POST", "/budgets", {"amount_usd": 2, "period": "month"}).json()["id"]
    assert scrape(running.ui_url).matching("llmpulse_budget_used_ratio") == []  # not computed yet
    run_detectors(running, "metrics", "alerts")
    status = running.get("/api/v1/budget/status").json()
    metrics = scrape(running.ui_url)
    labels = {"project": "default", "budget": str(budget), "period": "month"}
    assert metrics.value("llmpulse_budget_spent_usd", **labels) == pytest.approx(status["spent_usd"])
    assert metrics.value("llmpulse_budget_limit_usd", **labels) == 2
    assert metrics.value("llmpulse_budget_used_ratio", **labels) == pytest.approx(status["spent_usd"] / 2)
    assert metrics.value("llmpulse_budget_allowed", **labels) == (1 if status["allowed"] else 0)
    assert 0 < status["spent_usd"] < 2
    assert api(running, "DELETE", f"/budgets/{budget}").status_code == 204
    run_detectors(running, "alerts")
    assert scrape(running.ui_url).matching("llmpulse_budget_used_ratio") == []  # a deleted budget drops out


def test_hallucination_rate_equals_the_quality_api(running: Running) -> None:
    now = time.time_ns()
    running.send_calls(*[Call(n, model="gpt-4o" if n % 2 else "gpt-4o-mini", start_ns=now - n * MS)
                         for n in range(1, 6)])
    for n, label in ((1, "hallucinated"), (2, "hallucinated"), (3, "correct"), (4, "correct"), (5, "correct")):
        body = {"trace_id": f"{n:032x}", "name": "hallucination", "label": label}
        assert api(running, "POST", "/scores", body).status_code == 201
    assert scrape(running.ui_url).label_values("llmpulse_llm_hallucination_rate", "model") == {"other"}
    run_detectors(running, "metrics")  # a model is named once the rollups count its calls
    metrics = scrape(running.ui_url)
    start = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    quality = running.get("/api/v1/quality/hallucination", group_by="model", **{"from": start}).json()
    for group in quality["groups"]:
        labels = {"model": group["key"], "window": "1h"}
        assert metrics.value("llmpulse_llm_hallucination_scored_calls", **labels) == group["sampled"]
        assert metrics.value("llmpulse_llm_hallucination_rate", **labels) == pytest.approx(group["rate"])
    assert metrics.value("llmpulse_llm_hallucination_scored_calls", window="24h") == 5


def test_detector_runs_are_exposed(running: Running) -> None:
    run_detectors(running, "metrics")
    metrics = scrape(running.ui_url)
    assert metrics.value("llmpulse_detector_last_run_success", detector="metrics") == 1
    assert metrics.value("llmpulse_detector_last_run_duration_seconds", detector="metrics") > 0
    assert metrics.matching("llmpulse_detector_last_run_success", detector="drift") == []  # never ran
    assert metrics.value("llmpulse_detector_running", detector="drift") == 0
    assert metrics.value("llmpulse_llm_rollup_timestamp_seconds") > time.time() - 3600


def exposed_series(text: str) -> set[str]:
    """Series names a scrape exposes, from its `# TYPE` lines (also for families with no sample yet)."""
    names: set[str] = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            names |= {f"{name}{suffix}" for suffix in ("_bucket", "_count", "_sum")} if kind == "histogram" else {name}
    return names


def promql_names(expressions: list[str]) -> set[str]:
    return {name for expr in expressions for name in re.findall(r"\bllmpulse_[a-z0-9_]+", expr)}


def test_grafana_and_the_alert_rules_query_only_exposed_series(sent: tuple[Running, dict[str, str]]) -> None:
    running, _ = sent
    exposed = exposed_series(requests.get(running.ui_url + "/metrics", timeout=30).text)
    dashboard = json.loads((REPO / "deploy" / "grafana" / "llmpulse.json").read_text())
    panels = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    variables = [v["query"]["query"] for v in dashboard["templating"]["list"] if v["type"] == "query"]
    rules = yaml.safe_load((REPO / "deploy" / "prometheus" / "llmpulse-alerts.yml").read_text())["groups"]
    alerts = [rule["expr"] for group in rules for rule in group["rules"]]
    assert promql_names(panels + variables + alerts) <= exposed
    shown = promql_names(panels)
    for wanted in ("llmpulse_llm_requests_total", "llmpulse_llm_cost_usd_total", "llmpulse_llm_tokens_total",
                   "llmpulse_llm_request_duration_seconds_bucket", "llmpulse_llm_time_to_first_token_seconds_bucket",
                   "llmpulse_llm_prompt_cache_savings_usd_total", "llmpulse_llm_app_cache_savings_usd_total",
                   "llmpulse_llm_hallucination_rate", "llmpulse_budget_used_ratio", "llmpulse_ingest_responses_total",
                   "llmpulse_ingest_spans_received_total", "llmpulse_ingest_queue_rows",
                   "llmpulse_ingest_insert_duration_seconds_bucket",
                   "llmpulse_detector_last_success_timestamp_seconds"):
        assert wanted in shown, wanted
