"""The real OpenTelemetry SDK's MeterProvider and OTLP metric exporter, over real HTTP, into a running
collector: cumulative exports become deltas, a redelivered export counts once, a restarted process
(a new start time) counts whole, and delta temporality adds up."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from opentelemetry.exporter.otlp.json.http.metric_exporter import OTLPMetricExporter as JsonMetricExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.sdk.metrics import Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    InMemoryMetricReader,
    MetricExporter,
    MetricExportResult,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource

from tests.conftest import Running

TOKENS, DURATION = "gen_ai.client.token.usage", "gen_ai.client.operation.duration"
CHAT = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini"}
DELTA = {Histogram: AggregationTemporality.DELTA}


class App:
    """One app process: its meter provider and the two GenAI client histograms it records."""

    def __init__(self, reader: Any) -> None:
        self.provider = MeterProvider(metric_readers=[reader],
                                      resource=Resource.create({"service.name": "checkout-bot"}))
        meter = self.provider.get_meter("test.genai")
        # the bucket advice of the GenAI conventions, as the instrumentations give it
        self.tokens = meter.create_histogram(TOKENS, unit="{token}", explicit_bucket_boundaries_advisory=[
            4.0 ** i for i in range(14)])
        self.duration = meter.create_histogram(DURATION, unit="s", explicit_bucket_boundaries_advisory=[
            0.01 * 2 ** i for i in range(14)])

    def call(self, input_tokens: int, output_tokens: int, seconds: float) -> None:
        self.tokens.record(input_tokens, {**CHAT, "gen_ai.token.type": "input"})
        self.tokens.record(output_tokens, {**CHAT, "gen_ai.token.type": "output"})
        self.duration.record(seconds, CHAT)


def exporting(running: Running, reader: InMemoryMetricReader) -> Callable[[], Any]:
    """An export of what the reader collects now; returns a function that sends that request again."""
    exporter = OTLPMetricExporter(endpoint=running.otlp_url + "/v1/metrics")
    data = reader.get_metrics_data()
    assert exporter.export(data) == MetricExportResult.SUCCESS
    return lambda: exporter.export(data)


def totals(running: Running, since_ns: int) -> dict[str, Any]:
    running.flush()
    window = {"from": iso(since_ns), "to": iso(time.time_ns() + 3600 * 10**9)}
    answer = running.get("/api/v1/metrics/otel", bucket="day", **window)
    assert answer.status_code == 200, answer.text
    return answer.json()["total"]


def iso(ns: int) -> str:
    return datetime.fromtimestamp(ns // 1000 / 1e6, UTC).isoformat()


def test_cumulative_exports_count_new_observations_once_and_a_restart_counts_whole(running: Running) -> None:
    began = time.time_ns() - 60 * 10**9
    reader = InMemoryMetricReader()
    app = App(reader)
    app.call(100, 10, 0.2)
    exporting(running, reader)
    between = time.time_ns()
    app.call(50, 5, 0.4)
    again = exporting(running, reader)
    assert again() == MetricExportResult.SUCCESS  # the exporter's retry: the same request twice

    assert totals(running, began)["tokens"] == {"input": 150, "output": 15}
    second = totals(running, between)  # the first export is the baseline: only what came after it
    assert (second["tokens"], second["requests"]) == ({"input": 50, "output": 5}, 1)

    restarted = InMemoryMetricReader()
    App(restarted).call(30, 3, 0.3)  # a new process: its cumulative series start again from zero
    exporting(running, restarted)
    total = totals(running, began)
    assert (total["tokens"], total["requests"]) == ({"input": 180, "output": 18}, 3)


def test_delta_exports_add_up_and_a_redelivery_counts_once(running: Running) -> None:
    began = time.time_ns() - 60 * 10**9
    reader = InMemoryMetricReader(preferred_temporality=DELTA)
    app = App(reader)
    app.call(100, 10, 0.2)
    exporting(running, reader)
    app.call(50, 5, 3.0)
    exporting(running, reader)()
    total = totals(running, began)
    assert (total["tokens"], total["requests"]) == ({"input": 150, "output": 15}, 2)
    # 0.2 s falls in (0.16, 0.32], 3.0 s in (2.56, 5.12]: the quantiles are as fine as the buckets
    assert total["duration_ms"]["p50"] == pytest.approx(320)
    assert 2560 < total["duration_ms"]["p99"] <= 5120


@pytest.mark.parametrize("make", [
    lambda url: OTLPMetricExporter(endpoint=url + "/v1/metrics"),
    lambda url: JsonMetricExporter(endpoint=url + "/v1/metrics"),
], ids=["protobuf", "json"])
def test_periodic_reader_exports_on_each_flush(running: Running, make: Callable[[str], MetricExporter]) -> None:
    began = time.time_ns() - 60 * 10**9
    app = App(PeriodicExportingMetricReader(make(running.otlp_url), export_interval_millis=math.inf))
    app.call(120, 12, 0.5)
    assert app.provider.force_flush()
    app.call(80, 8, 0.5)
    assert app.provider.force_flush()
    app.provider.shutdown()
    total = totals(running, began)
    assert (total["tokens"], total["requests"]) == ({"input": 200, "output": 20}, 2)
