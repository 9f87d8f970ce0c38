"""llmpulse's own health: what each collector process last reported, and each detector's last run.

Collectors may be other processes than this dashboard (server mode), so their figures come from
the reports they persist (schemas.metadata.ingest_reports) every few seconds, keyed by collector
(host:port); in embedded mode this process's own collector is read live. A collector that has not
reported for an hour drops out; its gauges drop out once its report is a minute old (a stopped
collector has no queue).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.metrics_core import Metric

from dashboard.prometheus.context import ScrapeContext
from schemas.metadata import ingest_reports as stats
from schemas.metadata.ingest_reports import IngestReports
from schemas.metadata.runs import RunLog

KEEP_REPORTS = timedelta(hours=1)
FRESH_GAUGES = timedelta(minutes=1)
# Counter family of the report → (metric name, help, its label names besides `collector`).
COUNTERS = {
    stats.RESPONSES: ("llmpulse_ingest_responses", "OTLP answers by signal and HTTP status (503: backpressure)",
                      ("signal", "code")),
    stats.REFUSED: ("llmpulse_ingest_requests_refused", "OTLP requests refused whole, by reason", ("reason",)),
    stats.RECEIVED: ("llmpulse_ingest_spans_received", "Spans (signal traces), log records (logs) and GenAI "
                     "metric points (metrics) acknowledged", ("signal",)),
    stats.SKIPPED: ("llmpulse_ingest_points_skipped", "Metric points acknowledged but not kept: metrics other "
                    "than GenAI ones (http.client.duration …)", ("signal",)),
    stats.REJECTED: ("llmpulse_ingest_spans_rejected", "Spans and log records refused inside accepted requests "
                     "(partial success: bad ids or times)", ("signal",)),
    stats.ROWS_WRITTEN: ("llmpulse_ingest_rows_written", "Rows inserted into ClickHouse", ("table",)),
    stats.INSERT_RETRIES: ("llmpulse_ingest_insert_retries", "Inserts retried after a transient failure", ()),
}
GAUGES = {
    stats.QUEUE_ROWS: ("llmpulse_ingest_queue_rows", "Rows acknowledged, not yet in ClickHouse (503s above the "
                       "limit)"),
    stats.SPOOL_BYTES: ("llmpulse_ingest_spool_bytes", "Bytes of acknowledged requests in the durable spool"),
    stats.SPOOL_RECORDS: ("llmpulse_ingest_spool_records", "Requests in the spool not yet all written"),
    stats.DEAD_LETTER_ROWS: ("llmpulse_ingest_dead_letter_rows", "Rows ClickHouse refused after the ack "
                             "(should be 0)"),
    stats.UNBUILT_REQUESTS: ("llmpulse_ingest_unbuilt_requests", "Requests whose rows could not be built (kept "
                             "in the spool; should be 0)"),
}


def collector_reports(ctx: ScrapeContext) -> dict[str, tuple[datetime, dict[str, Any]]]:
    """Every collector's newest report: persisted ones, this process's own collector read live."""
    found = {r.instance: (r.updated_at, r.report) for r in IngestReports(ctx.metadata).since(ctx.now - KEEP_REPORTS)}
    live = ctx.live_ingest()
    if live is not None:
        found[live[0]] = (ctx.now, live[1])
    return found


def ingest_families(ctx: ScrapeContext) -> list[Metric]:
    reports = collector_reports(ctx)
    families: list[Metric] = [_counter(reports, family, *spec) for family, spec in COUNTERS.items()]
    families.append(_insert_histogram(reports))
    fresh = {name: item for name, item in reports.items() if ctx.now - item[0] <= FRESH_GAUGES}
    families.extend(_gauge(fresh, key, name, text) for key, (name, text) in GAUGES.items())
    reported = GaugeMetricFamily("llmpulse_ingest_report_timestamp_seconds", "When each collector last reported",
                                 labels=["collector"])
    for name, (at, _) in sorted(reports.items()):
        reported.add_metric([name], at.timestamp())
    return [*families, reported]


def _counter(reports: dict[str, tuple[datetime, dict[str, Any]]], family: str, name: str, text: str,
             label_names: tuple[str, ...]) -> Metric:
    metric = CounterMetricFamily(name, text, labels=["collector", *label_names])
    for collector, (_, report) in sorted(reports.items()):
        for key, value in sorted(((report.get("counters") or {}).get(family) or {}).items()):
            labels = dict(json.loads(key))
            metric.add_metric([collector, *(labels.get(n, "") for n in label_names)], float(value))
    return metric


def _insert_histogram(reports: dict[str, tuple[datetime, dict[str, Any]]]) -> Metric:
    metric = HistogramMetricFamily("llmpulse_ingest_insert_duration_seconds", "Time of one batch insert into "
                                   "ClickHouse", labels=["collector"])
    for collector, (_, report) in sorted(reports.items()):
        saved = (report.get("histograms") or {}).get(stats.INSERT_SECONDS)
        if saved and saved.get("counts"):
            buckets = [(repr(float(b)), c) for b, c in zip(saved["bounds"], saved["counts"], strict=False)]
            metric.add_metric([collector], [*buckets, ("+Inf", saved["counts"][-1])], float(saved["sum"]))
    return metric


def _gauge(reports: dict[str, tuple[datetime, dict[str, Any]]], key: str, name: str, text: str) -> Metric:
    metric = GaugeMetricFamily(name, text, labels=["collector"])
    for collector, (_, report) in sorted(reports.items()):
        value = (report.get("gauges") or {}).get(key)
        if value is not None:
            metric.add_metric([collector], float(value))
    return metric


def detector_families(ctx: ScrapeContext) -> list[Metric]:
    """Each detector's last finished run: when it started, how long it took, whether it ended ok,
    and the last run that did (alert on `time() - llmpulse_detector_last_success_timestamp_seconds`)."""
    names = ("llmpulse_detector_last_run_timestamp_seconds", "llmpulse_detector_last_run_duration_seconds",
             "llmpulse_detector_last_run_success", "llmpulse_detector_last_success_timestamp_seconds",
             "llmpulse_detector_running")
    texts = ("Start of the detector's last finished run", "How long its last finished run took",
             "1 when its last finished run ended ok, 0 when it failed", "Start of its last run that ended ok",
             "1 while a run of it is in progress")
    families = {n: GaugeMetricFamily(n, t, labels=["detector"]) for n, t in zip(names, texts, strict=True)}
    runs = RunLog(ctx.metadata)
    for detector in ctx.detectors:
        recent = runs.recent(detector, limit=5)
        finished = next((r for r in recent if r.finished_at is not None), None)
        families[names[4]].add_metric([detector], 1.0 if recent and recent[0].finished_at is None else 0.0)
        if finished is not None and finished.finished_at is not None:
            families[names[0]].add_metric([detector], finished.started_at.timestamp())
            families[names[1]].add_metric([detector], (finished.finished_at - finished.started_at).total_seconds())
            families[names[2]].add_metric([detector], 1.0 if finished.outcome == "ok" else 0.0)
        if (ok := runs.last_ok(detector)) is not None:
            families[names[3]].add_metric([detector], ok.started_at.timestamp())
    return list(families.values())
