"""Shadow calls paired with their primaries, from raw spans or from the `shadow_pairs` table.

Pairing raw spans costs a pass over every span of the window (the primaries are ordinary calls,
found by span id among all of them): ~4 CPU-s over 10M spans. The shadow-pairs detector keeps the
pairs in a table (migration 0011), one row per shadow call, so the report reads those rows for the
hours the table holds whole and pairs raw spans only outside them (the newest minutes, history
not yet backfilled), as the call rollups are read (`schemas.clickhouse.rollup`).

A row is recomputed whole from the spans of its trace whenever the trace receives a span (late and
redelivered spans included); the newest computation replaces the older, so a shadow call listed
unpaired becomes paired on the detector's next run after its primary arrives, and is never counted
twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.clickhouse.filters import filter_conditions
from schemas.clickhouse.metrics import RollupSpan
from schemas.clickhouse.rollup import RAW_TAIL, MarkReader
from schemas.clickhouse.store import Store

PAIRS_TABLE = "shadow_pairs"
PAIRED_KEY = "shadow.paired_until"
BACKFILL_KEY = "shadow.backfilled_from"
MARGIN = timedelta(minutes=10)  # a primary starts this close to its shadow call (queries.TWIN_MARGIN)
_MARGIN_SQL = "INTERVAL 10 MINUTE"

# The shadow call's facts kept in a pair row: (span column, row column); filter columns keep their names.
_SHADOW_FACTS = (("start_time", "start_time"), ("span_id", "candidate_id"), ("shadow_of", "shadow_of"),
                 ("request_model", "request_model"), ("provider", "provider"), ("service_name", "service_name"),
                 ("environment", "environment"), ("user_id", "user_id"), ("session_id", "session_id"),
                 ("tags", "tags"), ("cost_total", "candidate_cost"), ("duration_ms", "candidate_ms"))
# The columns of a pair, in the order raw_pairs_sql gives them.
PAIR_COLUMNS = ("trace_id", *(name for _, name in _SHADOW_FACTS), "primary_id", "primary_model", "primary_cost",
                "primary_ms")


def _window(alias: str, low: str, high: str, margin: bool = False) -> str:
    wide = f" - {_MARGIN_SQL}" if margin else "", f" + {_MARGIN_SQL}" if margin else ""
    return (f"{alias}.start_time >= {{{low}:DateTime64(6, 'UTC')}}{wide[0]} "
            f"AND {alias}.start_time < {{{high}:DateTime64(6, 'UTC')}}{wide[1]}")


def raw_pairs_sql(filters: Mapping[str, str], low: str = "start", high: str = "end", traces: str = "") -> str:
    """Every shadow span starting in [low, high) with its primary's facts (primary_id '' when none),
    as PAIR_COLUMNS; `traces`, a subquery, limits it to those traces.

    One scan, no join: the spans that are shadow calls or that a shadow call names (by span id alone)
    are grouped by (trace, primary span id); each group holds the primary (if stored) and its shadow
    calls (redelivered copies made one), one row each after the ARRAY JOIN. A join of the shadow
    spans to the window's spans took 4 s over 10M spans, this ~1 s.
    """
    only = [f"s.trace_id IN ({traces})"] if traces else []
    shadow = " AND ".join(["s.shadow_of != ''", _window("s", low, high), *filter_conditions(filters, "s")])
    named = " AND ".join(["n.project_id = {project:String}", "n.shadow_of != ''", _window("n", low, high),
                          *([f"n.trace_id IN ({traces})"] if traces else [])])
    facts = ", ".join(f"s.{column}" for column, _ in _SHADOW_FACTS)
    groups = ("SELECT any(s.trace_id) AS trace_id, anyIf(s.span_id, s.shadow_of = '') AS primary_id, "
              "anyIf(s.request_model, s.shadow_of = '') AS primary_model, "
              "anyIf(s.cost_total, s.shadow_of = '') AS primary_cost, "
              "anyIf(s.duration_ms, s.shadow_of = '') AS primary_ms, "
              f"groupArrayIf(({facts}), {shadow}) AS shadows FROM {{db}}.spans AS s "
              f"WHERE {' AND '.join(['s.project_id = {project:String}', _window('s', low, high, True), *only])} "
              f"AND (s.shadow_of != '' OR s.span_id IN (SELECT n.shadow_of FROM {{db}}.spans AS n WHERE {named})) "
              "GROUP BY sipHash128(s.trace_id, if(s.shadow_of != '', s.shadow_of, s.span_id)) "
              "HAVING notEmpty(shadows)")
    picked = ", ".join(f"c.{i + 1} AS {name}" for i, (_, name) in enumerate(_SHADOW_FACTS))
    return (f"SELECT g.trace_id AS trace_id, {picked}, g.primary_id AS primary_id, "
            "g.primary_model AS primary_model, g.primary_cost AS primary_cost, g.primary_ms AS primary_ms "
            f"FROM ({groups}) AS g ARRAY JOIN arrayDistinct(g.shadows) AS c")


def _stored_pairs_sql(filters: Mapping[str, str]) -> str:
    where = " AND ".join(["p.project_id = {project:String}", _window("p", "held_lo", "held_hi"),
                          *filter_conditions(filters, "p")])
    return (f"SELECT {', '.join(f'p.{c} AS {c}' for c in PAIR_COLUMNS)} "
            f"FROM {{db}}.{PAIRS_TABLE} AS p FINAL WHERE {where}")


def pairs_source(filters: Mapping[str, str], start: datetime, end: datetime,
                 held: RollupSpan | None) -> tuple[str, dict[str, Any]]:
    """SQL of the window's pairs as PAIR_COLUMNS, and its extra parameters: the stored rows for the
    hours the table holds whole (`held`), raw pairing for the rest of [start, end)."""
    low, high = (max(start, held.start), min(end, held.end)) if held else (end, end)
    if low >= high:
        return raw_pairs_sql(filters), {}
    parts, params = [_stored_pairs_sql(filters)], {"held_lo": low, "held_hi": high}
    for i, (a, b) in enumerate(((start, low), (high, end))):
        if a < b:
            parts.append(raw_pairs_sql(filters, f"raw{i}_lo", f"raw{i}_hi"))
            params |= {f"raw{i}_lo": a, f"raw{i}_hi": b}
    return " UNION ALL ".join(parts), params


def held_pairs(marks: MarkReader) -> RollupSpan | None:
    """The hours whose pairs the table holds whole (None until the detector's first run); like the
    rollup, the newest minutes are left to raw spans, whose late primaries are not paired yet."""
    until, since = marks.get(PAIRED_KEY), marks.get(BACKFILL_KEY)
    if not until or not since:
        return None
    return RollupSpan(datetime.fromisoformat(since), datetime.fromisoformat(until) - RAW_TAIL)


# --- maintenance (the shadow-pairs detector) ------------------------------------------------------

_INSERT = f"INSERT INTO {{db}}.{PAIRS_TABLE} ({', '.join(PAIR_COLUMNS)}, project_id, computed_at) "


def pair_range(store: Store, project: str, start: datetime, end: datetime) -> None:
    """Pair every shadow call of [start, end) again (a backfill)."""
    sql = f"{_INSERT}SELECT *, {{project:String}}, now64(6) FROM ({raw_pairs_sql({})})"
    store.query(sql, {"project": project, "start": start, "end": end}, "shadow_pair_range")


def refresh_pairs(store: Store, project: str, since: datetime, not_before: datetime) -> int:
    """Pair again every shadow call from `not_before` on of a trace that received a span since
    `since` (ingest time), one INSERT per day touched; returns the spans that touched them."""
    params: dict[str, Any] = {"project": project, "since": since, "not_before": not_before}
    days = store.query(
        "SELECT toStartOfDay(start_time) AS day, min(start_time), max(start_time), count() FROM {db}.spans "
        "WHERE project_id = {project:String} AND ingested_at > {since:DateTime64(6, 'UTC')} "
        "AND start_time >= {not_before:DateTime64(6, 'UTC')} - INTERVAL 10 MINUTE GROUP BY day ORDER BY day",
        params, "shadow_dirty_days")
    touched = ("SELECT t.trace_id FROM {db}.spans AS t WHERE t.project_id = {project:String} "
               "AND t.ingested_at > {since:DateTime64(6, 'UTC')} AND " + _window("t", "start", "end", True))
    sql = f"{_INSERT}SELECT *, {{project:String}}, now64(6) FROM ({raw_pairs_sql({}, traces=touched)})"
    for _, low, high, _ in days:
        window = {**params, "start": max(_aware(low) - MARGIN, not_before), "end": _aware(high) + MARGIN}
        if window["start"] < window["end"]:
            store.query(sql, window, "shadow_refresh_pairs")
    return sum(int(count) for *_, count in days)


def oldest_shadow(store: Store) -> datetime | None:
    rows = store.query("SELECT min(start_time), count() FROM {db}.spans WHERE shadow_of != ''", {}, "shadow_oldest")
    return _aware(rows[0][0]) if rows and rows[0][1] else None


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
