"""Token counts no call can have, and times storage cannot hold, through the real edge and chDB.

A count of 2^63-1 tokens used to be priced ($6.9 trillion: one span stopped a gateway's
budget), made the UInt64 sums wrap, or (as a cache part) made a row ClickHouse refused after
the 200, so an acknowledged span went to the dead letter. Now the response names the refused
attribute, the span is stored with that count NULL and the reason on it, and sums stay right.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from collector.counts import REFUSED_ATTRIBUTE
from tests.conftest import Running, api, run_detectors
from tests.spans import Call

HUGE = 2**63 - 1
NOON = int(datetime(2026, 11, 2, 12, tzinfo=UTC).timestamp() * 1e9)


def post(running: Running, *calls: Call) -> ExportTraceServiceResponse:
    return ExportTraceServiceResponse.FromString(running.send_calls(*calls).content)


def stored(running: Running, trace: int) -> dict[str, Any]:
    rows = running.service.store.query_dicts(
        "SELECT input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, total_tokens, cost_total, "
        "cost_source, attributes FROM {db}.spans FINAL WHERE trace_id = {t:String}",
        {"t": f"{trace:032x}"}, "test")
    assert len(rows) == 1, rows
    return rows[0]


def dead_letters(running: Running) -> int:
    return running.service.writer.stats.dead_lettered


def test_a_huge_count_is_named_in_the_response_and_stored_as_null(running: Running) -> None:
    answer = post(running, Call(1, start_ns=NOON, input_tokens=HUGE, output_tokens=7))
    assert answer.partial_success.rejected_spans == 0  # the span is kept, only its count is refused
    message = answer.partial_success.error_message
    assert f"gen_ai.usage.input_tokens={HUGE} is not a token count (0 to 100000000 a call)" in message
    row = stored(running, 1)
    assert (row["input_tokens"], row["output_tokens"], row["total_tokens"]) == (None, 7, None)
    assert row["cost_total"] is None and row["cost_source"] == "unpriced"  # never $6.9 trillion, never $0
    assert f"gen_ai.usage.input_tokens={HUGE}" in row["attributes"][REFUSED_ATTRIBUTE]
    assert dead_letters(running) == 0
    listed = running.get("/api/v1/traces", **{"from": "2026-11-02T11:00:00Z", "to": "2026-11-02T13:00:00Z"})
    trace = listed.json()["traces"][0]
    assert (trace["tokens"], trace["cost"], trace["unpriced_calls"]) == (7, None, 1)  # the known tokens only


def test_huge_cache_counts_are_not_acknowledged_then_dead_lettered(running: Running) -> None:
    extra = {"gen_ai.usage.cache_read.input_tokens": HUGE, "gen_ai.usage.cache_creation.input_tokens": HUGE}
    answer = post(running, Call(2, start_ns=NOON, input_tokens=2, extra=extra))
    assert "gen_ai.usage.cache_creation.input_tokens=" in answer.partial_success.error_message
    assert "gen_ai.usage.cache_read.input_tokens=" in answer.partial_success.error_message
    row = stored(running, 2)
    assert (row["input_tokens"], row["cache_read_tokens"], row["cache_write_tokens"]) == (2, None, None)
    assert dead_letters(running) == 0


def test_token_sums_skip_refused_counts_and_never_wrap(running: Running) -> None:
    """Three spans of 2^63-1 input tokens used to wrap the UInt64 sum (it went down)."""
    at = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    start = int((at.timestamp() + 60) * 1e9)  # a fixed minute inside one hour, hours before the test
    post(running, Call(3, start_ns=start, input_tokens=100, output_tokens=10),
         *[Call(4 + i, start_ns=start, input_tokens=HUGE, output_tokens=10) for i in range(3)])
    window = {"from": (at - timedelta(hours=1)).isoformat(), "to": (at + timedelta(hours=2)).isoformat()}
    total = running.get("/api/v1/metrics/summary", **window).json()["total"]
    assert (total["requests"], total["input_tokens"], total["output_tokens"]) == (4, 100, 40)
    run_detectors(running, "metrics")  # the minute and hour rollups sum the same rows
    for group_by in ("model", "user"):  # rollup, raw calls
        series = running.get("/api/v1/metrics/timeseries", metric="requests,input_tokens,output_tokens",
                             bucket="day", group_by=group_by, **window).json()["series"]
        points = [s["points"][0] for s in series]
        assert sum(p["input_tokens"] for p in points) == 100, (group_by, points)
        assert sum(p["output_tokens"] for p in points) == 40 and sum(p["requests"] for p in points) == 4


def test_a_huge_count_cannot_stop_a_gateway(running: Running) -> None:
    assert api(running, "POST", "/budgets", {"amount_usd": 1000, "period": "month"}).status_code == 201
    post(running, Call(8, input_tokens=HUGE, output_tokens=HUGE, extra={"gen_ai.usage.total_tokens": HUGE}))
    status = api(running, "GET", "/budget/status").json()
    assert status["allowed"] is True and status["spent_exact"] in ("0", "0.000000000000")


def test_a_start_time_beyond_storage_is_refused_with_its_reason(running: Running) -> None:
    answer = post(running, Call(9, start_ns=2**64 - 1 - 10**9), Call(10, start_ns=NOON))
    assert answer.partial_success.rejected_spans == 1
    assert "start_time_unix_nano is after 2299-12-31" in answer.partial_success.error_message
    rows = running.service.store.query("SELECT trace_id FROM {db}.spans FINAL", {}, "test")
    assert rows == [(f"{10:032x}",)]


def test_a_dead_lettered_row_is_logged_and_counted_on_readyz(running: Running, caplog: pytest.LogCaptureFixture
                                                             ) -> None:
    """The dead letter is a last resort no input reaches now, so a storage that refuses every row
    stands in for the bug that would put one there."""
    writer = running.service.writer

    def refuse(table: str, columns: Any, data: Any) -> None:
        raise ValueError("refused by the test")

    writer._insert = refuse
    with caplog.at_level(logging.ERROR, logger="collector.writer"):
        post(running, Call(11, start_ns=NOON))
    assert any("dead-letter" in r.getMessage() and r.levelno == logging.ERROR for r in caplog.records)
    for url in (running.otlp_url, running.ui_url):
        ready = requests.get(url + "/readyz", timeout=10).json()
        assert ready["dead_lettered"] == 1, (url, ready)


def test_migration_0006_keeps_the_counts_of_rows_written_before_it(running: Running,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """An existing store migrates in place: the count columns become Nullable with their values."""
    import uuid

    from schemas.clickhouse import store as store_module

    store = store_module.Store(running.service.store.client, f"t_{uuid.uuid4().hex[:12]}", embedded=True)
    every = store_module.load_migrations()
    monkeypatch.setattr(store_module, "load_migrations", lambda: [m for m in every if m.version < 6])
    store.migrate()
    store.client.command(f"INSERT INTO {store.database}.spans (project_id, trace_id, span_id, start_time, "
                         "input_tokens, output_tokens, total_tokens) "
                         "VALUES ('p', 't', 's', '2026-11-02 12:00:00', 120, 30, 150)")
    monkeypatch.setattr(store_module, "load_migrations", lambda: every)
    assert "0006_nullable_token_counts.sql" in store.migrate()
    assert store.query("SELECT input_tokens, output_tokens, total_tokens, toTypeName(input_tokens) "
                       "FROM {db}.spans", {}, "test") == [(120, 30, 150, "Nullable(UInt64)")]
    store.client.command(f"DROP DATABASE {store.database}")


def test_a_window_of_refused_counts_only_sums_to_zero_not_null(running: Running) -> None:
    at = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    post(running, Call(30, start_ns=int((at.timestamp() + 60) * 1e9), input_tokens=-1, output_tokens=-1,
                       extra={"gen_ai.usage.cache_read.input_tokens": -1}))
    window = {"from": (at - timedelta(hours=1)).isoformat(), "to": (at + timedelta(hours=2)).isoformat()}
    total = running.get("/api/v1/metrics/summary", **window).json()["total"]
    counted = (total["requests"], total["input_tokens"], total["output_tokens"], total["cache_read_tokens"])
    assert counted == (1, 0, 0, 0)
    run_detectors(running, "metrics")
    for group_by in ("model", "user"):  # rollup, raw calls
        series = running.get("/api/v1/metrics/timeseries", metric="input_tokens,cached_tokens,prompt_cache_share",
                             bucket="day", group_by=group_by, **window)
        assert series.status_code == 200, series.text
        point = series.json()["series"][0]["points"][0]
        assert (point["input_tokens"], point["cached_tokens"]) == (0, 0), (group_by, point)


def test_a_reported_cost_no_call_can_have_is_refused_and_spend_never_wraps(running: Running) -> None:
    """Two reported costs of 9e25 on a model with no price wrapped the Decimal(38, 12) spend negative."""
    assert api(running, "POST", "/budgets", {"amount_usd": 1000, "period": "month"}).status_code == 201
    forged = {"gen_ai.usage.cost": "90000000000000000000000000"}
    answer = post(running, *[Call(40 + i, model="no-such-model", extra=forged) for i in range(2)],
                  Call(42, model="no-such-model", extra={"gen_ai.usage.cost": 0.25}))
    assert "gen_ai.usage.cost='90000000000000000000000000' is not the cost of one call (at most $1,000,000)" in (
        answer.partial_success.error_message)
    row = stored(running, 40)
    assert (row["cost_total"], row["cost_source"]) == (None, "unpriced")
    assert "gen_ai.usage.cost=" in row["attributes"][REFUSED_ATTRIBUTE]
    status = api(running, "GET", "/budget/status").json()
    assert status["allowed"] is True and status["spent_exact"].startswith("0.25")
