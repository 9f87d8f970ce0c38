"""Retention: each project keeps its `retention_days`; older data leaves every table, newer stays."""

from __future__ import annotations

import time

from tests.conftest import Running, run_detector, run_detectors
from tests.metric_requests import Point, export_metrics, histogram
from tests.spans import Call

DAY_NS = 86_400 * 10**9


def counts(running: Running, project: str) -> dict[str, int]:
    tables = ("spans", "call_metrics_minute", "call_metrics_hour", "cohort_hour", "call_spend_hour",
              "otel_metric_points")
    return {t: running.service.store.query(f"SELECT count() FROM {{db}}.{t} FINAL WHERE project_id = {{p:String}}",
                                           {"p": project}, "test")[0][0] for t in tables}


def test_data_older_than_a_projects_retention_is_deleted_and_the_rest_kept(running: Running) -> None:
    metadata = running.service.metadata
    metadata.ensure_project("short")
    metadata.update_project("short", retention_days=3)
    now = time.time_ns()
    version = {"llmpulse.prompt.version": "v1"}  # a declared cohort key: the cohort rollup keeps the hours
    old = [Call(1, start_ns=now - 5 * DAY_NS, extra=version, user="u1")]
    recent = [Call(2, start_ns=now - DAY_NS, extra=version, user="u1"), Call(3, start_ns=now, extra=version, user="u1")]
    for calls in (old, recent):
        for project in ("short", "default"):  # default keeps its 30 days
            key = "" if project == "default" else metadata.create_key(project, "k").key
            running.send_calls(*calls, headers={"Authorization": f"Bearer {key}"} if key else None)
    began = now - 6 * DAY_NS
    points = [Point(began, now - 5 * DAY_NS, [1, 0], 0.5), Point(began, now - DAY_NS, [2, 0], 1.0)]
    body = export_metrics(histogram("gen_ai.client.operation.duration", "s", (1.0,), points))
    short_key = {"Authorization": f"Bearer {metadata.create_key('short', 'm').key}",
                 "Content-Type": "application/x-protobuf"}
    assert running.post_otlp("/v1/metrics", body, short_key).status_code == 200
    for _ in range(6):  # the backfill goes one day further back per run
        run_detectors(running, "metrics", "cohort_rollup")
    before = counts(running, "short")
    assert before["spans"] == 3 and before["call_metrics_hour"] == 3
    assert before["cohort_hour"] == 2  # the current hour is not rolled yet
    assert before["call_spend_hour"] == 12  # per user and per ingest key: the every-model row and the model's row
    assert before["otel_metric_points"] == 2

    first = run_detector(running, "retention")
    assert first["rows_written"] >= 3 and first["message"].startswith("short: 1 span(s) before ")
    assert counts(running, "short") == {"spans": 2, "call_metrics_minute": 2, "call_metrics_hour": 2, "cohort_hour": 1,
                                        "call_spend_hour": 8, "otel_metric_points": 1}
    assert counts(running, "default")["spans"] == 3
    summary = running.get("/api/v1/metrics/summary", project="short", **{"from": (now - 10 * DAY_NS) / 1e9})
    assert summary.json()["total"]["requests"] == 2
    assert run_detector(running, "retention")["message"] == "nothing past retention"  # nothing more to do: no writes
