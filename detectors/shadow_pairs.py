"""The shadow-pairs detector: keeps `shadow_pairs` current (`schemas.clickhouse.shadow_pairs`).

The metrics detector's scheme, for pairs: each run pairs again the shadow calls of every trace that
received a span since the previous run (by ingest time, with an overlap), so a late primary pairs
its shadow call and a redelivered span rewrites its row; history that predates the table is paired
one day per run, newest first. Until a day is paired, the report pairs its raw spans itself.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from detectors.base import DetectorContext, RunResult
from detectors.metrics import BACKFILL_STEP, OVERLAP
from schemas.clickhouse.metrics import dirty_projects, projects_with_calls
from schemas.clickhouse.shadow_pairs import BACKFILL_KEY, PAIRED_KEY, oldest_shadow, pair_range, refresh_pairs


class ShadowPairsDetector:
    name = "shadow_pairs"

    def __init__(self, interval: float) -> None:
        self.interval = interval

    def run(self, ctx: DetectorContext) -> RunResult:
        paired, backfilled = ctx.state.get(PAIRED_KEY), ctx.state.get(BACKFILL_KEY)
        if paired and backfilled:
            floor = datetime.fromisoformat(backfilled)
            since = datetime.fromisoformat(paired) - OVERLAP
            read = sum(refresh_pairs(ctx.store, p, since, floor) for p in dirty_projects(ctx.store, since))
        else:  # first run: today now, older days one per run
            floor = ctx.now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
            self._pair(ctx, floor, ctx.now + timedelta(minutes=1))
            read = 0
        floor, back = self._backfill_step(ctx, floor)
        ctx.state.set(BACKFILL_KEY, floor.isoformat())
        ctx.state.set(PAIRED_KEY, ctx.now.isoformat())
        return RunResult(rows_read=read, message=f"{read} new span(s) paired again; "
                                                 f"{back} day(s) of history, pairs whole from {floor.isoformat()}")

    def _pair(self, ctx: DetectorContext, start: datetime, end: datetime) -> None:
        for project in projects_with_calls(ctx.store, start, end):
            pair_range(ctx.store, project, start, end)

    def _backfill_step(self, ctx: DetectorContext, floor: datetime) -> tuple[datetime, int]:
        """Pair the day before `floor` if any shadow call is older; returns the new floor."""
        oldest = oldest_shadow(ctx.store)
        if oldest is None or oldest >= floor:
            return floor, 0
        start = floor - BACKFILL_STEP
        self._pair(ctx, start, floor)
        return start, 1
