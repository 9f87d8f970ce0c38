"""Which minutes the per-minute rollup holds: the two marks the metrics detector leaves, read back.

Every reader of the rollup (series, KPI tiles, budgets, alert rules) asks this before it queries,
so it lives beside the rollup queries rather than in the detector that writes the marks. The
marks are kept in the metadata DB's detector state; this module reads them through anything
with `get`, so the ClickHouse side imports nothing of the metadata side.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from schemas.clickhouse.metrics import RollupSpan
from schemas.clickhouse.store import Store

WATERMARK_KEY = "metrics.rolled_until"
BACKFILL_KEY = "metrics.backfilled_from"
# Hours rolled up before migration 0017 lack spend per user/tag, before 0019 per ingest key: the mark
# was renamed with 0019 so that an upgrade remakes them (today first, then a day a run).
SPEND_KEY = "metrics.spend_whole_from.0019"
# What the rollup's rows hold; rows made by an older version are made again, one day per run.
# 2: the failure signal counts (migration 0013).
VERSION_KEY = "metrics.rollup_version"
ROLLUP_VERSION = "2"
# A span arrives when its call ends (a long generation: minutes after its start minute), so
# readers take the newest minutes from raw calls and trust the rollup only this far back.
RAW_TAIL = timedelta(minutes=15)


class MarkReader(Protocol):
    """Where the marks are kept (`schemas.metadata.runs.StateStore`)."""

    def get(self, key: str) -> str | None: ...


def rollup_span(marks: MarkReader) -> RollupSpan | None:
    """The minutes readers may take from the rollup (None until the first run)."""
    until, since = marks.get(WATERMARK_KEY), marks.get(BACKFILL_KEY)
    if not until or not since:
        return None
    spend = marks.get(SPEND_KEY)
    spend_start = max(datetime.fromisoformat(spend), datetime.fromisoformat(since)) if spend else None
    return RollupSpan(datetime.fromisoformat(since), datetime.fromisoformat(until) - RAW_TAIL, spend_start)


# A run rolls up what was ingested until it started; this much before that is counted as late too
# (rows become visible a little after their ingested_at, as the detector's own overlap allows).
LATE_MARGIN = timedelta(minutes=2)
_LATE_SQL = ("SELECT count() FROM {db}.spans WHERE project_id = {project:String} AND is_call "
             "AND ingested_at > {rolled_at:DateTime64(6, 'UTC')} AND start_time >= {start:DateTime64(6, 'UTC')} "
             "AND start_time < {end:DateTime64(6, 'UTC')}")


def current_rollup(store: Store, marks: MarkReader, project: str, start: datetime, end: datetime) -> RollupSpan | None:
    """The rollup span for reading `project` over [start, end), or None (read raw calls) when calls
    reached minutes the rollup holds after its last run: a backfill or a demo's spread-out traffic
    would otherwise be missing from tiles and charts until the next run, while the API counts them.
    One count over the minmax index on ingested_at: cheap when nothing came late, as usual."""
    span = rollup_span(marks)
    until = marks.get(WATERMARK_KEY)
    if span is None or not until:
        return span
    low, high = max(start, span.start), min(end, span.end)
    if low >= high:
        return span
    params = {"project": project, "rolled_at": datetime.fromisoformat(until) - LATE_MARGIN, "start": low, "end": high}
    late = store.query(_LATE_SQL, params, "rollup_late_calls")[0][0]
    return None if late else span
