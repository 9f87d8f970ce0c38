"""OTLP metric points over real HTTP into chDB, read back as deltas: figures checked by hand.

Points carry explicit times; cumulative runs, baselines, resets, redelivery, errors, cost and the
quantiles estimated from buckets are each computed here by hand and compared with the API.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.conftest import Running
from tests.metric_requests import DELTA, Point, export_metrics, histogram
from tests.scrape import scrape

PROTOBUF = {"Content-Type": "application/x-protobuf"}
HOUR = 3600 * 10**9
DAY0 = int(datetime(2026, 11, 23, tzinfo=UTC).timestamp()) * 10**9  # midnight UTC
DURATION_BOUNDS = (0.1, 0.5, 1.0, 2.0)  # seconds
TOKEN_BOUNDS = (16.0, 256.0, 4096.0)
CHAT = {"gen_ai.request.model": "gpt-4o-mini", "gen_ai.provider.name": "openai", "gen_ai.operation.name": "chat"}


def at(hours: float) -> int:
    return DAY0 + int(hours * HOUR)


def post(running: Running, body: bytes) -> dict[str, Any]:
    response = running.post_otlp("/v1/metrics", body, PROTOBUF)
    assert response.status_code == 200, response.content
    running.flush()
    return response


def read(running: Running, start: float, end: float, **params: object) -> dict[str, Any]:
    answer = running.get("/api/v1/metrics/otel", **{"from": iso(start), "to": iso(end)}, **params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def iso(hours: float) -> str:
    return datetime.fromtimestamp(at(hours) / 1e9, UTC).isoformat()


def durations(*points: Point) -> bytes:
    return export_metrics(histogram("gen_ai.client.operation.duration", "s", DURATION_BOUNDS, points))


def test_cumulative_run_turns_into_deltas_per_hour_with_quantiles_from_buckets(running: Running) -> None:
    start = at(10)
    post(running, durations(Point(start, at(10.2), [2, 3, 0, 0, 0], 1.2, CHAT)))
    post(running, durations(Point(start, at(11.2), [2, 5, 4, 0, 0], 4.9, CHAT)))

    answer = read(running, 0, 24, bucket="hour")
    total = answer["total"]
    assert total["requests"] == 11 and total["errors"] == 0
    # p50: 5.5th of 11 → 2 in (0,100], 5 in (100,500]: 100 + 3.5/5·400 = 380 ms.
    # p95: 10.45th → 7 below 500, 4 in (500,1000]: 500 + 3.45/4·500 = 931.25 ms.
    assert total["duration_ms"]["p50"] == pytest.approx(380)
    assert total["duration_ms"]["p95"] == pytest.approx(931.25)
    hours = {p["time"]: p for p in answer["series"][0]["points"]}
    assert [h["requests"] for h in hours.values()] == [5, 6]
    # the 11:00 hour holds only the new observations [0, 2, 4, 0, 0]: p50 = 3rd → 500 + 1/4·500.
    assert hours[iso(11)]["duration_ms"]["p50"] == pytest.approx(625)
    assert answer["metrics"] == [{"name": "gen_ai.client.operation.duration", "kind": "histogram", "unit": "s",
                                  "points": 2, "series": 1}]


def test_a_run_older_than_the_lookback_is_only_a_baseline_and_a_redelivery_counts_once(running: Running) -> None:
    start = at(1)  # 9 hours before the window: beyond the 6 h lookback
    first = durations(Point(start, at(10.1), [10, 0, 0, 0, 0], 0.5, CHAT))
    second = durations(Point(start, at(11.1), [10, 0, 3, 0, 0], 2.6, CHAT))
    for body in (first, second, second, first):
        post(running, body)
    total = read(running, 10, 12)["total"]
    assert total["requests"] == 3  # only what was observed between the two points in the window
    assert total["duration_ms"]["p50"] == pytest.approx(750)  # 1.5th of 3 in (500, 1000]


def test_a_new_start_time_counts_whole_and_errors_are_counted(running: Running) -> None:
    failed = {**CHAT, "error.type": "RateLimitError"}
    post(running, durations(Point(at(9), at(9.5), [0, 4, 0, 0, 0], 1.0, CHAT),
                            Point(at(9), at(9.5), [1, 0, 0, 0, 0], 0.05, failed)))
    post(running, durations(Point(at(9), at(10.5), [0, 6, 0, 0, 0], 1.5, CHAT)))
    post(running, durations(Point(at(10.7), at(11.5), [0, 2, 0, 0, 0], 0.4, CHAT)))  # the process restarted
    total = read(running, 9, 12)["total"]
    assert (total["requests"], total["errors"]) == (6 + 2 + 1, 1)


def test_tokens_by_type_and_cost_from_delta_points(running: Running) -> None:
    # a delta point's start is its interval's, however long: never a baseline, even beyond the lookback
    tokens = [Point(at(2), at(10.5), [0, 1, 0, 0], 100, {**CHAT, "gen_ai.token.type": "input"}),
              Point(at(10), at(10.5), [1, 0, 0, 0], 10, {**CHAT, "gen_ai.token.type": "output"}),
              Point(at(10.5), at(11.5), [0, 1, 0, 0], 50, {**CHAT, "gen_ai.token.type": "input"})]
    cost = [Point(at(10), at(10.5), [1, 0], 0.002, CHAT), Point(at(10.5), at(11.5), [1, 0], 0.001, CHAT)]
    post(running, export_metrics(histogram("gen_ai.client.token.usage", "{token}", TOKEN_BOUNDS, tokens, DELTA),
                                 histogram("gen_ai.usage.cost", "USD", (1.0,), cost, DELTA)))
    answer = read(running, 10, 12, group_by="model")
    (series,) = answer["series"]
    assert series["key"] == "gpt-4o-mini"
    assert series["total"]["tokens"] == {"input": 150, "output": 10}
    assert series["total"]["cost"] == pytest.approx(0.003)
    assert [p["tokens"] for p in series["points"]] == [{"input": 100, "output": 10}, {"input": 50}]


def test_bad_metrics_are_refused_and_nothing_is_stored(running: Running) -> None:
    answer = running.post_otlp("/v1/metrics", b"\x0a\xff\xff", PROTOBUF)
    assert answer.status_code == 400 and b"ExportMetricsServiceRequest" in answer.content
    bad = histogram("gen_ai.client.operation.duration", "s", DURATION_BOUNDS, [Point(at(9), at(10), [1, 2], 1.0)])
    partial = running.post_otlp("/v1/metrics", export_metrics(bad), PROTOBUF)
    assert partial.status_code == 200 and b"2 bucket counts for 4 bounds" in partial.content
    running.flush()
    assert read(running, 0, 24)["metrics"] == []


def test_window_and_parameters_are_checked(running: Running) -> None:
    wrong = running.get("/api/v1/metrics/otel", group_by="user")
    assert wrong.status_code == 400 and "group_by" in wrong.json()["error"]
    assert running.get("/api/v1/metrics/otel", bucket="week").status_code == 400
    assert running.get("/api/v1/metrics/otel", bucket="minute", **{"from": "0"}).status_code == 400


def test_model_and_service_filters(running: Running) -> None:
    other = {**CHAT, "gen_ai.request.model": "gpt-4o"}
    post(running, durations(Point(at(10), at(10.5), [1, 0, 0, 0, 0], 0.05, CHAT),
                            Point(at(10), at(10.5), [0, 2, 0, 0, 0], 0.6, other)))
    assert read(running, 10, 11, model="gpt-4o")["total"]["requests"] == 2
    assert read(running, 10, 11, service="svc")["total"]["requests"] == 3
    assert read(running, 10, 11, service="elsewhere")["total"]["requests"] == 0


def test_ingest_stats_count_points_kept_and_skipped(running: Running) -> None:
    http = histogram("http.client.duration", "ms", (5.0,), [Point(at(9), at(10), [1, 0], 2.0)])
    post(running, export_metrics(http, histogram("gen_ai.client.operation.duration", "s", DURATION_BOUNDS,
                                                 [Point(at(9), at(10), [1, 0, 0, 0, 0], 0.05, CHAT)])))
    metrics = scrape(running.ui_url)
    assert metrics.value("llmpulse_ingest_spans_received_total", signal="metrics") == 1
    assert metrics.value("llmpulse_ingest_points_skipped_total", signal="metrics") == 1
    assert metrics.value("llmpulse_ingest_rows_written_total", table="otel_metric_points") == 1
