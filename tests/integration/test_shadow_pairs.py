"""The shadow report read from the pairs table (`shadow_pairs`, kept by its detector) says what it
says when pairing raw spans; a primary that arrives after its shadow call pairs it on the next run,
and spans sent again never count a pair twice. Spans come through the real OpenTelemetry exporter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider

from schemas.shadow_fields import SHADOW_OF_ATTRIBUTE
from tests.conftest import Running, api, run_detectors
from tests.integration.test_shadow import CANDIDATE, MS, PRIMARY, _chat, shadow_traffic  # noqa: F401 (fixture)


def _report(running: Running, window: dict) -> dict:
    body = api(running, "GET", "/shadow", **window).json()
    return {key: body[key] for key in ("pairs", "unpaired", "unpaired_total")}


def test_the_pairs_table_answers_as_raw_spans_do(running: Running, shadow_traffic: dict) -> None:  # noqa: F811
    window = shadow_traffic["window"]
    raw = _report(running, window)
    (run,) = run_detectors(running, "shadow_pairs")
    stored = running.service.store.query("SELECT count(), countIf(primary_id = '') FROM {db}.shadow_pairs FINAL",
                                         {}, "test")[0]
    assert stored == (4, 1) and run["outcome"] == "ok"
    assert _report(running, window) == raw
    assert raw["pairs"][0]["pairs"] == 3 and raw["unpaired_total"] == 1
    filtered = api(running, "GET", "/shadow", service="another", **window).json()
    assert filtered["pairs"] == [] and filtered["unpaired"] == []


def test_a_late_primary_pairs_its_shadow_call_and_a_redelivery_counts_once(running: Running) -> None:
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=3)
    start_ns = int(start.timestamp() * 1e9)
    window = {"from": (start - timedelta(hours=1)).isoformat(), "to": (start + timedelta(hours=1)).isoformat()}
    exporter = OTLPSpanExporter(endpoint=running.otlp_url + "/v1/traces")
    tracer = TracerProvider().get_tracer("app")  # no processor: spans are exported by hand below
    primary = _chat(tracer, PRIMARY, start_ns, 200, "Paris.", {})
    primary_id = format(primary.get_span_context().span_id, "016x")
    with trace.use_span(primary, end_on_exit=False):  # the shadow call in the primary's trace
        shadow = _chat(tracer, CANDIDATE, start_ns + 2 * MS, 500, "Paris.", {SHADOW_OF_ATTRIBUTE: primary_id})
    exporter.export([shadow])
    running.flush()
    run_detectors(running, "shadow_pairs")
    assert _report(running, window)["unpaired_total"] == 1
    exporter.export([primary])
    running.flush()
    assert _report(running, window)["unpaired_total"] == 1  # read from the table: paired on its next run
    run_detectors(running, "shadow_pairs")
    (pair,) = _report(running, window)["pairs"]
    assert (pair["pairs"], pair["latency_delta_ms"]["mean"]) == (1, 300.0)
    exporter.export([shadow, primary])  # an exporter's retry
    running.flush()
    run_detectors(running, "shadow_pairs")
    report = _report(running, window)
    assert report["pairs"][0]["pairs"] == 1 and report["unpaired_total"] == 0
    assert report["pairs"][0]["most_divergent"][0]["agreement"] == 1.0
