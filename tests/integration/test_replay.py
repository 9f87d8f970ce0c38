"""Spool replay at start-up: what a previous process acknowledged is written, and a request
that cannot be turned into rows is kept for a later version rather than dropped."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector import rows
from collector.spool import Spool, SpoolRecord
from tests.conftest import make_settings, start_service
from tests.integration.test_ingest_edge import chat_span, export_body
from tests.integration.test_otel_metrics import CHAT, at, durations, post, read
from tests.metric_requests import Point


def leave_in_spool(spool_dir: Path) -> None:
    """What a killed process leaves behind: an acknowledged body not yet in ClickHouse."""
    body = export_body(chat_span(42, 1, "r-1"), chat_span(42, 2, "r-2"))
    Spool(spool_dir).append(SpoolRecord("default", "traces", "application/x-protobuf", body))


def test_replay_keeps_what_it_cannot_write(tmp_path: Path, chdb_dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = make_settings(tmp_path, chdb_dsn)
    leave_in_spool(settings.spool_dir)

    def broken(*_args: object) -> dict:
        raise RuntimeError("normalizer bug")

    monkeypatch.setattr(rows, "normalize_span", broken)
    first = start_service(settings)
    first.service.stop()
    assert list(settings.spool_dir.glob("*.spool")), "the unwritable request must stay in the spool"

    monkeypatch.undo()
    second = start_service(settings)
    try:
        assert second.get("/api/v1/metrics/summary", **{"from": "0"}).json()["total"]["requests"] == 2
        assert [p for p in settings.spool_dir.glob("*.spool") if p.stat().st_size] == []
    finally:
        second.service.stop()


def test_acked_metrics_are_replayed_from_the_spool_once(tmp_path: Path, chdb_dsn: str) -> None:
    """One request written and also left in the spool (killed before its record was released), one
    only in the spool: after the restart both are stored, the first once."""
    settings = make_settings(tmp_path, chdb_dsn)
    written = metric_body(at(10.5), [0, 3, 0, 0, 0])
    first = start_service(settings)
    post(first, written)
    first.service.stop()
    spool = Spool(settings.spool_dir)
    spool.append(SpoolRecord("default", "metrics", "application/x-protobuf", written))
    spool.append(SpoolRecord("default", "metrics", "application/x-protobuf", metric_body(at(11.5), [0, 5, 1, 0, 0])))

    second = start_service(settings)
    try:
        total = read(second, 9, 12)["total"]
        assert total["requests"] == 6  # the last cumulative point: 5 + 1, not 3 more for the copy
        assert [m["points"] for m in read(second, 9, 12)["metrics"]] == [2]
        assert [p for p in settings.spool_dir.glob("*.spool") if p.stat().st_size] == []
    finally:
        second.service.stop()


def metric_body(time_ns: int, counts: list[int]) -> bytes:
    return durations(Point(at(10), time_ns, counts, 1.0, CHAT))


def test_replay_records_the_ingest_key_that_sent_the_request(tmp_path: Path, chdb_dsn: str) -> None:
    """A span written by replay carries the same key id as one written at once would."""
    settings = make_settings(tmp_path, chdb_dsn)
    body = export_body(chat_span(42, 1, "r-1"))
    Spool(settings.spool_dir).append(SpoolRecord("default", "traces", "application/x-protobuf", body, "7"))
    running = start_service(settings)
    try:
        rows_read = running.service.store.query(
            "SELECT resource_attributes['llmpulse.ingest_key'] FROM {db}.spans FINAL", {}, "test_replay_key")
        assert rows_read == [("7",)]
    finally:
        running.service.stop()
