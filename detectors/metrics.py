"""The metrics detector: keeps the per-minute call rollup current (`schemas.clickhouse.metrics`).

Each run recomputes, whole and from deduplicated calls, every minute that received a span since
the previous run (by ingest time, with an overlap), so late and redelivered spans land in the
right minute exactly once. History that predates the rollup (an upgrade, an import, or rows an
older version of the rollup made, which lack columns it has since gained: `ROLLUP_VERSION`) is
rolled up one day per run, newest first, so no tick is unbounded; until then readers take those
days from raw calls. The two marks it leaves tell readers which minutes the rollup holds
(`schemas.clickhouse.rollup`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from detectors.base import DetectorContext, RunResult
from schemas.clickhouse.metrics import dirty_projects, oldest_call, projects_with_calls, refresh_rollup, rollup_range
from schemas.clickhouse.rollup import BACKFILL_KEY, ROLLUP_VERSION, SPEND_KEY, VERSION_KEY, WATERMARK_KEY
from schemas.clickhouse.spend_rollup import refresh_spend_hours

# Rows become visible a little after their ingested_at default is taken, and clocks of
# collectors differ: everything ingested this long before the last watermark is read again.
OVERLAP = timedelta(minutes=2)
BACKFILL_STEP = timedelta(days=1)


class MetricsDetector:
    name = "metrics"

    def __init__(self, interval: float) -> None:
        self.interval = interval

    def run(self, ctx: DetectorContext) -> RunResult:
        watermark, backfilled = ctx.state.get(WATERMARK_KEY), ctx.state.get(BACKFILL_KEY)
        first = not (watermark and backfilled)
        if watermark and backfilled and ctx.state.get(VERSION_KEY) == ROLLUP_VERSION:
            floor = datetime.fromisoformat(backfilled)
            read = self._refresh(ctx, datetime.fromisoformat(watermark) - OVERLAP, floor)
        else:  # first run, or rows an older rollup made: today now, older days one per run
            floor = ctx.now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
            read = self._roll(ctx, floor, ctx.now + timedelta(minutes=1))
        floor, back = self._backfill_step(ctx, floor)
        self._spend_step(ctx, floor, first)
        ctx.state.set(BACKFILL_KEY, floor.isoformat())
        ctx.state.set(WATERMARK_KEY, ctx.now.isoformat())
        ctx.state.set(VERSION_KEY, ROLLUP_VERSION)
        return RunResult(rows_read=read + back, message=f"{read} new call(s) rolled up; {back} from history, "
                                                        f"rollup whole from {floor.isoformat()}")

    def _refresh(self, ctx: DetectorContext, since: datetime, floor: datetime) -> int:
        return sum(refresh_rollup(ctx.store, p, since, floor) for p in dirty_projects(ctx.store, since))

    def _roll(self, ctx: DetectorContext, start: datetime, end: datetime) -> int:
        return sum(rollup_range(ctx.store, p, start, end) for p in projects_with_calls(ctx.store, start, end))

    def _backfill_step(self, ctx: DetectorContext, floor: datetime) -> tuple[datetime, int]:
        """Roll up the day before `floor` if any call is older; returns the new floor and calls read."""
        oldest = oldest_call(ctx.store)
        if oldest is None or oldest >= floor:
            return floor, 0
        start = floor - BACKFILL_STEP
        return start, self._roll(ctx, start, floor)

    def _spend_step(self, ctx: DetectorContext, floor: datetime, first: bool) -> None:
        """Spend per user/tag for hours rolled up before migration 0017 (an upgrade): today first,
        then a day a run back to the rollup's floor. Rollups made since fill it as they go."""
        mark = ctx.state.get(SPEND_KEY)
        if first or (mark and datetime.fromisoformat(mark) <= floor):
            ctx.state.set(SPEND_KEY, floor.isoformat())
            return
        if not mark:
            start = ctx.now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
            end = ctx.now + timedelta(minutes=1)
        else:
            end = datetime.fromisoformat(mark)
            start = max(floor, end - BACKFILL_STEP)
        for project in projects_with_calls(ctx.store, start, end):
            refresh_spend_hours(ctx.store, project, start, end)
        ctx.state.set(SPEND_KEY, start.isoformat())
