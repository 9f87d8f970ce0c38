"""The metrics detector and /api/v1/metrics/timeseries on the real engine, fed over real OTLP/HTTP."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from schemas.clickhouse import metrics
from schemas.clickhouse.metrics import RollupSpan, SeriesQuery, dimension_values
from schemas.clickhouse.rollup import rollup_span
from schemas.metadata.runs import StateStore
from tests.conftest import Running, api, run_detectors
from tests.spans import Call

HOUR_NS = 3600 * 10**9


def hours_ago(hours: float, offset_s: float = 0) -> int:
    """A fixed point inside an hour that began `hours` ago (stays in one hour bucket during the test)."""
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours)
    return int((start.timestamp() + 60 + offset_s) * 1e9)


def noon_days_ago(days: int) -> int:
    """Noon of the UTC day `days` before today: the backfill's day steps hold it whatever the hour now."""
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return int((midnight - timedelta(days=days, hours=-12)).timestamp() * 1e9)


def series(running: Running, **params: object) -> dict:
    params.setdefault("from", (datetime.now(UTC) - timedelta(hours=6)).isoformat())
    params.setdefault("to", datetime.now(UTC).isoformat())
    response = running.get("/api/v1/metrics/timeseries", **params)
    assert response.status_code == 200, response.text
    return response.json()


def points_by_key(result: dict) -> dict[str, list[dict]]:
    return {s["key"]: s["points"] for s in result["series"]}


def test_rollup_counts_late_redelivered_and_twin_spans_once(running: Running) -> None:
    two_h, one_h = hours_ago(2), hours_ago(1)
    batch = [
        Call(1, 1, start_ns=two_h, duration_ms=100, user="u1", response_id="r1"),
        Call(1, 2, start_ns=two_h + 10**6, duration_ms=100, user="u1", response_id="r1"),  # a twin of the first
        Call(2, 1, start_ns=two_h, duration_ms=300, user="u2", error=True),
        Call(3, 1, start_ns=one_h, duration_ms=900, model="gpt-4o", user="u1", cache_hit=True),
    ]
    running.send_calls(*batch)
    running.send_calls(*batch)  # redelivered by an exporter retry
    run_detectors(running, "metrics")
    hourly = points_by_key(series(running, metric="requests,errors,error_rate,cache_hit_rate", bucket="hour"))[""]
    assert [(p["requests"], p["errors"]) for p in hourly] == [(2, 1), (1, 0)]
    assert hourly[0]["error_rate"] == 0.5 and hourly[1]["cache_hit_rate"] == 1.0

    running.send_calls(Call(4, 1, start_ns=two_h + 5 * 10**9, duration_ms=200, user="u3"))  # late, into a rolled minute
    run_detectors(running, "metrics")
    hourly = points_by_key(series(running, metric="requests,latency_p99_ms", bucket="hour"))[""]
    assert [p["requests"] for p in hourly] == [3, 1]
    by_minute = points_by_key(series(running, metric="requests,latency_p99_ms", bucket="minute"))[""]
    assert sum(p["requests"] for p in by_minute) == 4  # minute rows and hour rows tell the same story
    assert max(p["latency_p99_ms"] for p in by_minute) == pytest.approx(hourly[1]["latency_p99_ms"])


def test_rollup_and_raw_calls_agree_with_the_summary(running: Running) -> None:
    base = hours_ago(3)
    calls = [Call(10 + i, 1, start_ns=base + i * 61 * 10**9, duration_ms=100.0 * (i + 1),
                  model=("gpt-4o-mini", "gpt-4o")[i % 2], user=f"u{i % 3}", input_tokens=1000,
                  cache_read_tokens=400 * (i % 2), ttft_ms=50.0 * (i + 1), tags=("beta",) if i < 4 else ())
             for i in range(10)]
    running.send_calls(*calls)
    run_detectors(running, "metrics")
    window = {"from": datetime.fromtimestamp(base / 1e9 - 60, UTC).isoformat(),
              "to": datetime.fromtimestamp(base / 1e9 + 3600, UTC).isoformat()}
    summary = running.get("/api/v1/metrics/summary", **window).json()["total"]
    metrics = "requests,cost_total,latency_p50_ms,latency_p99_ms,ttft_p95_ms,cached_tokens,prompt_cache_share"
    by_model = series(running, metric=metrics, bucket="day", group_by="model", **window)  # rollup
    by_user = series(running, metric=metrics, bucket="day", group_by="user", **window)  # raw calls
    for result in (by_model, by_user):
        points = [s["points"][0] for s in result["series"]]
        assert sum(p["requests"] for p in points) == summary["requests"] == 10
        assert sum(p["cost_total"] for p in points) == pytest.approx(summary["cost"]["total"], rel=1e-9)
        assert sum(p["cached_tokens"] for p in points) == summary["cache_read_tokens"] == 2000
    overall = series(running, metric=metrics, bucket="day", **window)["series"][0]["points"][0]
    # t-digest quantiles (mergeable across minutes) land on a neighbouring sample of the exact ones here.
    assert overall["latency_p50_ms"] == pytest.approx(summary["latency_ms"]["p50"], abs=50)
    assert overall["prompt_cache_share"] == pytest.approx(2000 / 10000)
    tagged = points_by_key(series(running, metric="requests", bucket="day", group_by="tag", **window))
    assert tagged["beta"][0]["requests"] == 4 and tagged[""][0]["requests"] == 6
    filtered = series(running, metric="requests", bucket="day", model="gpt-4o", **window)["series"][0]
    assert filtered["points"][0]["requests"] == 5


def test_fresh_spans_show_before_any_detector_run(running: Running) -> None:
    running.send_calls(Call(20, 1), Call(21, 1, user="u9"))
    points = points_by_key(series(running, metric="requests", bucket="minute",
                                  **{"from": (datetime.now(UTC) - timedelta(minutes=30)).isoformat()}))[""]
    assert sum(p["requests"] for p in points) == 2


def test_app_and_prompt_cache_savings(running: Running) -> None:
    base = hours_ago(2)
    running.send_calls(Call(30, 1, start_ns=base, input_tokens=1_000_000, output_tokens=0),  # $0.15 list price
         Call(31, 1, start_ns=base, input_tokens=1_000_000, output_tokens=0, cache_read_tokens=500_000),
         Call(32, 1, start_ns=base, input_tokens=0, output_tokens=0, cache_hit=True))
    run_detectors(running, "metrics")
    point = series(running, metric="prompt_cache_savings,app_cache_savings,cache_savings",
                   bucket="day")["series"][0]["points"][0]
    # gpt-4o-mini: $0.15/M input, $0.075/M cache read → 500k read tokens saved $0.0375.
    assert point["prompt_cache_savings"] == pytest.approx(0.0375)
    assert point["app_cache_savings"] > 0
    assert point["cache_savings"] == pytest.approx(point["prompt_cache_savings"] + point["app_cache_savings"])


@pytest.mark.parametrize(("params", "message"), [
    ({}, "metric= is required"),
    ({"metric": "requests,bogus"}, "unknown metric bogus"),
    ({"metric": "requests", "bucket": "week"}, "bucket='week' is not one of"),
    ({"metric": "requests", "group_by": "colour"}, "group_by='colour' is not one of"),
    ({"metric": "requests", "bucket": "minute", "from": "2020-01-01T00:00:00Z"}, "more than 5000 points"),
    ({"metric": "requests", "project": "nope"}, "project 'nope' does not exist"),
])
def test_timeseries_bad_input(running: Running, params: dict, message: str) -> None:
    response = running.get("/api/v1/metrics/timeseries", **params)
    assert response.status_code in (400, 404) and message in response.json()["error"]


def test_detector_runs_are_recorded_and_unknown_names_refused(running: Running) -> None:

    bad = api(running, "POST", "/detectors/run", {"detectors": ["nope"]})
    assert bad.status_code == 400 and "unknown detector nope" in bad.json()["error"]
    running.send_calls(Call(40, 1))
    started = time.time()
    run_detectors(running)
    runs = running.get("/api/v1/detectors/runs").json()["runs"]
    latest = next(r for r in runs if r["detector"] == "metrics")
    assert latest["outcome"] == "ok" and latest["rows_read"] >= 1 and latest["trigger"] == "manual"
    assert datetime.fromisoformat(latest["finished_at"]).timestamp() >= started - 1


def test_a_rollup_spilled_to_disk_matches_the_one_made_in_memory(running: Running,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Past _ROLLUP_GROUP_BY_BYTES the rollup's GROUP BY spills to disk; here it spills at once."""
    base, calls = hours_ago(1), []
    for t in range(1, 121):  # six minutes of calls, two models, errors, and a twin every tenth call
        start = base + (t % 6) * 60 * 10**9 + t * 10**6
        model, user = ("gpt-4o" if t % 3 else "gpt-4o-mini"), f"u{t % 5}"
        calls.append(Call(300 + t, 1, start_ns=start, duration_ms=50.0 + 7 * t, model=model, user=user,
                          response_id=f"r{t}", error=t % 11 == 0))
        if t % 10 == 0:
            calls.append(Call(300 + t, 2, start_ns=start + 10**6, duration_ms=50.0 + 7 * t, model=model, user=user,
                              response_id=f"r{t}"))
    running.send_calls(*calls)
    run_detectors(running, "metrics")
    now = datetime.now(UTC)
    query = {"metric": "requests,errors,input_tokens,cost_total,latency_p50_ms,latency_p95_ms", "bucket": "minute",
             "group_by": "model", "from": (now - timedelta(hours=3)).isoformat(), "to": now.isoformat()}
    in_memory = series(running, **query)
    assert sum(p["requests"] for points in points_by_key(in_memory).values() for p in points) == 120

    monkeypatch.setattr(metrics, "_ROLLUP_GROUP_BY_BYTES", 1)
    monkeypatch.setattr(metrics, "_RANGE_SQL", metrics._rollup_insert(metrics.calls_query(with_signals=True)))
    first_minute = datetime.fromtimestamp(base / 1e9, UTC).replace(second=0, microsecond=0)
    read = metrics.rollup_range(running.service.store, "default", first_minute, first_minute + timedelta(minutes=10))
    assert read == 132  # every span of every call, twins included, went through the spilled GROUP BY
    assert series(running, **query) == in_memory  # (a rollup that dropped the errors instead makes this fail)


def test_history_is_rolled_up_a_day_per_run_and_reads_stay_exact(running: Running) -> None:
    old = [Call(60 + d, start_ns=noon_days_ago(d), duration_ms=100.0 * d) for d in range(1, 5)]
    running.send_calls(*old)
    window = {"from": (datetime.now(UTC) - timedelta(days=6)).isoformat(), "bucket": "day", "metric": "requests"}
    expected = sum(p["requests"] for p in points_by_key(series(running, **window))[""])
    floors = []
    for _ in range(4):
        run = run_detectors(running, "metrics")[0]
        floors.append(run["message"].rsplit("from ", 1)[1])
        assert sum(p["requests"] for p in points_by_key(series(running, **window))[""]) == expected == 4
    assert floors == sorted(floors, reverse=True) and len(set(floors)) == 4  # one day further back each run
    rolled = running.service.store.query(
        "SELECT count() FROM {db}.call_metrics_minute FINAL WHERE requests > 0", {}, "test")[0][0]
    assert rolled == 4
    hours = running.service.store.query(  # the backfill made the hours too, from the minutes
        "SELECT count(), sum(requests) FROM {db}.call_metrics_hour FINAL", {}, "test")[0]
    assert hours == (4, 4)


def test_the_hourly_migration_builds_hours_from_a_minute_rollup_that_predates_it(running: Running) -> None:
    running.send_calls(*(Call(80 + i, start_ns=hours_ago(2 + i)) for i in range(3)))
    run_detectors(running, "metrics")
    store = running.service.store
    store.client.command(f"TRUNCATE TABLE {store.table('call_metrics_hour')}")  # as before migration 0004
    store.client.command(f"DELETE FROM {store.table('schema_migrations')} WHERE version = 4")
    assert store.migrate() == ["0004_hourly_rollup.sql"]
    hours = store.query("SELECT count(), sum(requests) FROM {db}.call_metrics_hour FINAL", {}, "test")[0]
    assert hours == (3, 3)


def test_a_filter_bar_gets_every_dimension_busiest_first_in_one_read(running: Running) -> None:
    calls = [Call(90 + i, start_ns=hours_ago(2), model=model, service=service)
             for i, (model, service) in enumerate([("m-a", "api"), ("m-a", "api"), ("m-a", "worker"), ("m-b", "api")])]
    for call in calls:  # one request per call: a request carries one resource, so one service
        running.send_calls(call)
    now = datetime.now(UTC)
    q = SeriesQuery("default", ("requests",), now - timedelta(hours=6), now, filters={"model": "m-b"})
    names = ("model", "service", "environment")

    def values(rollup: RollupSpan | None) -> dict[str, list[str]]:
        return dimension_values(running.service.store, q, rollup, names, limit=10)

    raw = values(None)
    assert raw["model"] == ["m-a", "m-b"] and raw["service"][:2] == ["api", "worker"]  # the filter is ignored
    run_detectors(running, "metrics")
    assert values(rollup_span(StateStore(running.service.metadata))) == raw
    assert dimension_values(running.service.store, q, None, ("model",), limit=1) == {"model": ["m-a"]}
    with pytest.raises(ValueError, match="'user' is not a rollup dimension"):
        dimension_values(running.service.store, q, None, ("user",), limit=1)


def totals(running: Running, start_ns: int, end_ns: int) -> tuple[int, int]:
    """(requests, input tokens) of [start, end) in the hourly series, read from the rollup."""
    points = points_by_key(series(running, metric="requests,input_tokens", bucket="hour",
                                  **{"from": start_ns / 1e9, "to": end_ns / 1e9}))[""]
    return sum(p["requests"] for p in points), sum(p["input_tokens"] for p in points)


def minute_boundary(hours: float) -> int:
    return int(hours_ago(hours) // (60 * 10**9) * 60 * 10**9)


def test_a_twin_arriving_after_a_run_moves_its_call_instead_of_adding_one(running: Running) -> None:
    """The kept copy (more tokens) starts in the next minute: the first copy's minute is made again
    without it, not left counting it."""
    edge = minute_boundary(2)
    running.send_calls(Call(20, 1, start_ns=edge - 10**8, input_tokens=100, response_id="r20"))
    run_detectors(running, "metrics")
    running.send_calls(Call(20, 2, start_ns=edge + 10**8, input_tokens=150, response_id="r20"))
    run_detectors(running, "metrics")
    assert totals(running, edge - HOUR_NS, edge + HOUR_NS) == (1, 150)


def test_a_twin_under_another_service_name_replaces_the_first_copy_s_row(running: Running) -> None:
    edge = minute_boundary(2) + 20 * 10**9
    running.send_calls(Call(21, 1, start_ns=edge, input_tokens=100, response_id="r21", service="checkout"))
    run_detectors(running, "metrics")
    running.send_calls(Call(21, 2, start_ns=edge + 10**6, input_tokens=100, output_tokens=50, response_id="r21",
                       service="checkout-langfuse", cache_read_tokens=40))  # the copy kept: cache tokens
    run_detectors(running, "metrics")
    assert totals(running, edge - HOUR_NS, edge + HOUR_NS) == (1, 100)
    by_service = points_by_key(series(running, metric="requests", bucket="hour", group_by="service",
                                      **{"from": (edge - HOUR_NS) / 1e9, "to": (edge + HOUR_NS) / 1e9}))
    assert {k: sum(p["requests"] for p in v) for k, v in by_service.items()} == {"checkout-langfuse": 1}


def test_copies_on_both_sides_of_a_window_bound_are_one_call_in_one_window(running: Running) -> None:
    edge = minute_boundary(3)
    running.send_calls(Call(22, 1, start_ns=edge - 10**8, input_tokens=100, response_id="r22", cache_read_tokens=30),
         Call(22, 2, start_ns=edge + 10**8, input_tokens=100, response_id="r22"))
    run_detectors(running, "metrics")
    minute = 60 * 10**9
    windows = ((edge - minute, edge), (edge, edge + minute), (edge - minute, edge + minute))
    requests = [running.get("/api/v1/metrics/summary", **{"from": a / 1e9, "to": b / 1e9}).json()["total"]["requests"]
                for a, b in windows]
    assert requests == [1, 0, 1]  # the kept copy (cache tokens) starts before the bound
    assert totals(running, edge - HOUR_NS, edge + HOUR_NS) == (1, 100)


def test_copies_on_both_sides_of_the_rollup_s_end_are_one_call_read_raw(running: Running) -> None:
    """The raw tail after the rollup's end merges only the spans near it (a month-to-date budget
    merged every call of the month to find its last minutes), yet every copy of a call at the end:
    one whose kept copy starts after the end counts once, from raw calls; one whose kept copy starts
    before counts once, from the rollup (its later copy alone must not make a call of the tail)."""
    edge, second = minute_boundary(4), 10**9
    running.send_calls(Call(23, 1, start_ns=edge - second, input_tokens=100, response_id="r23"),
                       Call(23, 2, start_ns=edge + second, input_tokens=100, response_id="r23", cache_read_tokens=30),
                       Call(24, 1, start_ns=edge - 2 * HOUR_NS, input_tokens=7),
                       Call(25, 1, start_ns=edge - 2 * second, input_tokens=100, response_id="r25",
                            cache_read_tokens=40),
                       Call(25, 2, start_ns=edge + 2 * second, input_tokens=100, response_id="r25"))
    run_detectors(running, "metrics")
    start, end = (datetime.fromtimestamp(ns / 1e9, UTC) for ns in (edge - 3 * HOUR_NS, edge + HOUR_NS))
    query = SeriesQuery("default", ("requests", "input_tokens", "cached_tokens"), start, end)
    rolled_until_edge = RollupSpan(start - timedelta(days=1), datetime.fromtimestamp(edge / 1e9, UTC))
    expected = {"requests": 3, "input_tokens": 207, "cached_tokens": 70}
    assert metrics.window_values(running.service.store, query, rolled_until_edge) == expected
    assert metrics.window_values(running.service.store, query, None) == expected  # raw calls alone
