"""The retention detector: each project keeps `retention_days` of data (set on the Settings page
or with PUT /api/v1/projects/<name>); older spans, events, scores, rollups and drift events go.
The hours of the rollup it deletes are first added to the carried totals that /metrics counts from
(`schemas.clickhouse.totals`), so no counter goes down."""

from __future__ import annotations

from datetime import timedelta

from detectors.base import DetectorContext, RunResult
from schemas.clickhouse.retention import delete_expired, expired_rows
from schemas.clickhouse.totals import HOUR_TABLE, retire_hours


class RetentionDetector:
    name = "retention"

    def __init__(self, interval: float) -> None:
        self.interval = interval

    def run(self, ctx: DetectorContext) -> RunResult:
        removed, notes = 0, []
        for project in ctx.metadata.list_projects():
            cutoff = ctx.now - timedelta(days=project.retention_days)
            expired = expired_rows(ctx.store, project.name, cutoff)
            if HOUR_TABLE in expired:  # Prometheus counters keep what the deleted hours counted
                retire_hours(ctx.store, project.name, cutoff)
            if expired:
                delete_expired(ctx.store, project.name, cutoff, sorted(expired))
                removed += sum(expired.values())
                notes.append(f"{project.name}: {expired.get('spans', 0)} span(s) before {cutoff:%Y-%m-%d %H:%M}")
        return RunResult(rows_written=removed, message="; ".join(notes) or "nothing past retention")
