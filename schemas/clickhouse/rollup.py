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
