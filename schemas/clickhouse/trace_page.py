"""The default trace list over a long window (newest first, no filter) without grouping every span.

Grouping a week of spans by trace to find the 50 newest traces costs ~1 s at 10M spans. The
newest traces start in the newest hours, so their page is found there: group only the spans of
the last hour (or 6 hours, or a day) and drop the *straddlers*, traces with a span before that
cutoff, whose true first span is older than every trace that began after it. What is left,
ranked by first span, is exactly the exact path's page. Such a page is not counted: counting the
window's traces is the very grouping this avoids (an estimate from the rollups' uniq states
costs as much), so the list says how many it shows and that there are older ones.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from schemas.clickhouse.store import Store

# A window shorter than this is grouped whole: it is cheap, and its total stays exact.
MIN_WINDOW = timedelta(days=2)
STEPS = (timedelta(hours=1), timedelta(hours=6), timedelta(days=1))

_NEWEST_SQL = """
SELECT s.trace_id AS trace_id, min(s.start_time) AS first_start, max(s.start_time) AS last_start
FROM {db}.spans AS s
WHERE s.project_id = {project:String} AND s.start_time >= {cutoff:DateTime64(6, 'UTC')}
    AND s.start_time < {end:DateTime64(6, 'UTC')}
GROUP BY s.trace_id ORDER BY first_start DESC, trace_id LIMIT {take:UInt32}
"""
# The bloom filter on trace_id lets this skip most of the older spans.
_STRADDLERS_SQL = """
SELECT DISTINCT s.trace_id FROM {db}.spans AS s
WHERE s.project_id = {project:String} AND s.start_time >= {start:DateTime64(6, 'UTC')}
    AND s.start_time < {cutoff:DateTime64(6, 'UTC')} AND s.trace_id IN {ids:Array(String)}
"""


def newest_traces(store: Store, project: str, start: datetime, end: datetime,
                  need: int) -> list[dict[str, Any]] | None:
    """The `need` traces of [start, end) whose first span is newest, each with its first and last
    span start; None when no step finds them (the caller then groups the whole window)."""
    params = {"project": project, "start": start, "end": end, "take": 2 * need + 100}
    for step in STEPS:
        cutoff = end - step
        if cutoff <= start:
            return None
        candidates = store.query_dicts(_NEWEST_SQL, {**params, "cutoff": cutoff}, "list_traces_newest")
        kept = _without_straddlers(store, params, cutoff, candidates, need)
        if len(kept) >= need:
            return kept[:need]
    return None


def _without_straddlers(store: Store, params: dict[str, Any], cutoff: datetime, candidates: list[dict[str, Any]],
                        need: int) -> list[dict[str, Any]]:
    """The candidates that began after `cutoff`, checking only as many as the page needs (a short id
    list keeps the bloom filter selective)."""
    kept: list[dict[str, Any]] = []
    checked = 0
    while len(kept) < need and checked < len(candidates):
        batch = candidates[checked:checked + need - len(kept)]
        checked += len(batch)
        ids = [c["trace_id"] for c in batch]
        rows = store.query(_STRADDLERS_SQL, {**params, "cutoff": cutoff, "ids": ids}, "list_traces_straddlers")
        straddlers = {row[0] for row in rows}
        kept += [c for c in batch if c["trace_id"] not in straddlers]
    return kept
