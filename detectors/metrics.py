"""The metrics detector: keeps the per-minute call rollup current (`schemas.metrics`).

Each run recomputes, whole and from deduplicated calls, every minute that received a span since
the previous run (by ingest time, with an overlap), so late and redelivered spans land in the
right minute exactly once. The watermark it leaves tells readers up to where the rollup is whole.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from detectors.base import DetectorContext, RunResult
from schemas.metrics import dirty_projects, refresh_rollup
from schemas.runs import StateStore

WATERMARK_KEY = "metrics.rolled_until"
# Rows become visible a little after their ingested_at default is taken, and clocks of
# collectors differ: everything ingested this long before the last watermark is read again.
OVERLAP = timedelta(minutes=2)
# A span arrives when its call ends (a long generation: minutes after its start minute), so
# readers take the newest minutes from raw calls and trust the rollup only this far back.
RAW_TAIL = timedelta(minutes=15)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def rolled_until(state: StateStore) -> datetime | None:
    """Readers may take minutes before this from the rollup (None until the first run)."""
    value = state.get(WATERMARK_KEY)
    return datetime.fromisoformat(value) - RAW_TAIL if value else None


class MetricsDetector:
    name = "metrics"

    def __init__(self, interval: float) -> None:
        self.interval = interval

    def run(self, ctx: DetectorContext) -> RunResult:
        value = ctx.state.get(WATERMARK_KEY)
        previous = datetime.fromisoformat(value) if value else None
        since = previous - OVERLAP if previous else _EPOCH
        projects = dirty_projects(ctx.store, since)
        read = sum(refresh_rollup(ctx.store, project, since) for project in projects)
        ctx.state.set(WATERMARK_KEY, ctx.now.isoformat())
        return RunResult(rows_read=read, message=f"{len(projects)} project(s) refreshed since {since.isoformat()}")
