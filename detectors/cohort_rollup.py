"""The cohort-rollup detector: keeps `cohort_hour` current (`schemas.clickhouse.cohort_rollup`).

For each project, over its declared cohort keys (`schemas.cohort_keys`), each run:
1. recomputes the rolled hours that received a call since the previous run (by ingest time, with
   the metrics detector's overlap), so late and redelivered spans land in their hour, once;
2. rolls the hours that settled since: an hour is rolled once it ended RAW_TAIL ago (a long call's
   span arrives when it ends), and readers take the newer ones from raw spans;
3. rolls one more day of history, newest first, until every key holds the project's oldest call.
Hours are recomputed whole, never added to, so nothing is counted twice. A key declared later holds
no hour at first and is backfilled the same way; a key no longer declared is no longer kept.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from detectors.base import DetectorContext, RunResult
from detectors.metrics import BACKFILL_STEP, OVERLAP
from schemas.clickhouse.cohort_rollup import (
    MARKS_PREFIX,
    RolledKeys,
    has_calls_before,
    roll_hours,
    rolled_keys,
    touched_hours,
)
from schemas.clickhouse.rollup import RAW_TAIL
from schemas.cohort_keys import declared_keys
from schemas.times import HOUR, floor_hour


@dataclass(frozen=True)
class Rolled:
    """What one run did for one project."""

    project: str
    late_spans: int = 0  # spans ingested since the last run into hours already rolled
    recomputed: int = 0  # those hours
    settled: int = 0  # hours rolled for the first time
    history_from: datetime | None = None  # the oldest hour every key holds, after this run

    def text(self) -> str:
        history = self.history_from.isoformat() if self.history_from else "none"
        return (f"{self.project}: {self.settled} hour(s) rolled, {self.recomputed} recomputed for "
                f"{self.late_spans} late span(s), every key whole from {history}")


class CohortRollupDetector:
    name = "cohort_rollup"

    def __init__(self, interval: float) -> None:
        self.interval = interval

    def run(self, ctx: DetectorContext) -> RunResult:
        settled = floor_hour(ctx.now.astimezone(UTC) - RAW_TAIL)
        done = [self._roll_project(ctx, project.name, declared_keys(project.cohort_keys), settled)
                for project in ctx.metadata.list_projects()]
        return RunResult(rows_read=sum(r.late_spans for r in done), rows_written=sum(r.settled + r.recomputed
                                                                                     for r in done),
                         message="; ".join(r.text() for r in done) or "no project")

    def _roll_project(self, ctx: DetectorContext, project: str, keys: Sequence[str], settled: datetime) -> Rolled:
        marks = rolled_keys(ctx.state, project)
        today = _floor_day(settled)
        marks = marks.for_keys(keys) if marks else RolledKeys(dict.fromkeys(keys, today), today)
        if not keys:
            ctx.state.set(MARKS_PREFIX + project, marks.to_text())
            return Rolled(project)
        late, recomputed = _recompute_touched(ctx, project, keys, marks) if marks.checked else (0, 0)
        _roll_days(ctx, project, keys, marks.until, settled)
        new_hours = max(int((settled - marks.until) / HOUR), 0)
        marks = _backfill_day(ctx, project, keys, RolledKeys(marks.floors, max(marks.until, settled), ctx.now))
        ctx.state.set(MARKS_PREFIX + project, marks.to_text())
        return Rolled(project, late, recomputed, new_hours, max(marks.floors.values()))


def _recompute_touched(ctx: DetectorContext, project: str, keys: Sequence[str], marks: RolledKeys) -> tuple[int, int]:
    """Recompute the rolled hours that got a call since the last run, a day's hours per INSERT;
    returns the spans that touched them and how many hours."""
    since = (marks.checked or marks.until) - OVERLAP
    touched = touched_hours(ctx.store, project, since, min(marks.floors.values()), marks.until)
    by_day: dict[datetime, list[datetime]] = defaultdict(list)
    for hour, _ in touched:
        by_day[_floor_day(hour)].append(hour)
    for hours in by_day.values():
        roll_hours(ctx.store, project, keys, min(hours), max(hours) + HOUR, hours)
    return sum(count for _, count in touched), len(touched)


def _roll_days(ctx: DetectorContext, project: str, keys: Sequence[str], start: datetime, end: datetime) -> None:
    """Roll [start, end) a day at a time (a detector down for days catches up in bounded steps)."""
    while start < end:
        step = min(_floor_day(start) + BACKFILL_STEP, end)
        roll_hours(ctx.store, project, keys, start, step)
        start = step


def _backfill_day(ctx: DetectorContext, project: str, keys: Sequence[str], marks: RolledKeys) -> RolledKeys:
    """Roll the day before the newest floor if the project has older calls: every key then holds it."""
    latest = max(marks.floors.values())
    if not has_calls_before(ctx.store, project, latest):
        return marks
    start = _floor_day(latest - timedelta(microseconds=1))
    roll_hours(ctx.store, project, keys, start, latest)
    return RolledKeys({key: min(floor, start) for key, floor in marks.floors.items()}, marks.until, marks.checked)


def _floor_day(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)
