"""Spend per hour and user (tag, ingest key): what a budget per user reads instead of a month of raw calls.

User, tag and ingest key are not dimensions of the call rollup (a user id per row would multiply
it), yet a budget "every user at most $X a month" needs every user's month-to-date spend each tick.
This table keeps only that: per project, hour, dimension ("user", "tag" or "ingest_key"), value and
model, the calls and their cost (migrations 0017 and 0019). Hours are remade whole from deduplicated
calls when the hourly call rollup remakes them (`refresh_spend_hours`); a read takes whole hours
from here and the rest of its window from raw calls, as the call metrics do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from schemas.clickhouse.queries import TWIN_MARGIN, calls_query
from schemas.clickhouse.store import Store
from schemas.times import ceil_hour, floor_hour

SPEND_TABLE = "call_spend_hour"
# Budget `per` → the value of a call it groups by (a call with several tags counts for each; the
# ingest key is the id of the key that sent the call, migration 0019).
SPEND_DIMENSIONS = {"user": "c.user_id", "tag": "tag", "ingest_key": "c.ingest_key"}
_ZERO = "toDecimal128(0, 12)"
# Each call adds to its user's, its ingest key's and each tag's row of every model ('') and of its own
# model: a budget without a model filter (the usual one) then reads one row per value and hour, not
# one per model too.
_VALUES = ("arrayFlatten(arrayMap(m -> arrayConcat([('user', c.user_id, m), ('ingest_key', c.ingest_key, m)], "
           "arrayMap(t -> ('tag', t, m), c.tags)), if(c.request_model = '', [''], ['', c.request_model])))")


@dataclass(frozen=True)
class SpendQuery:
    """Spend per `per` value of `project` in [start, end), optionally of one model, biggest first."""

    project: str
    per: str
    start: datetime
    end: datetime
    model: str | None = None
    limit: int = 10_000
    value: str | None = None  # one user's (tag's) spend only


def refresh_spend_hours(store: Store, project: str, start: datetime, end: datetime) -> None:
    """Remake every hour of [start, end) of `project` from its calls; values gone from an hour are zeroed."""
    params = {"project": project, "start": floor_hour(start), "end": ceil_hour(end),
              "recomputed": datetime.now(UTC)}
    store.query(_REFRESH_SQL, params, "spend_refresh_hours")
    store.query(_ZERO_STALE_SQL, params, "spend_zero_stale_rows")


def spend_by_value(store: Store, q: SpendQuery, whole: tuple[datetime, datetime] | None) -> list[tuple[str, Decimal]]:
    """Each value's spend, biggest first: the whole hours of `whole` (where this table is complete)
    inside the window from the table, the rest from raw calls (only spans within the twin margin of
    those hours' bounds are merged, so a month's read merges the tail's calls, not the month's)."""
    params: dict[str, Any] = {"project": q.project, "start": q.start, "end": q.end, "per": q.per,
                              "f_model": q.model or "", "limit": q.limit, "value": q.value or ""}
    hours = _whole_hours(q, whole)
    if hours is None:
        parts = _raw_spend(q, "", "")
    else:
        params["h_start"], params["h_end"] = hours
        h_start, h_end = "{h_start:DateTime64(6, 'UTC')}", "{h_end:DateTime64(6, 'UTC')}"
        parts = _rollup_spend(q) + " UNION ALL " + _raw_spend(
            q, f"(c.start_time < {h_start} OR c.start_time >= {h_end})",
            f"(s.start_time < {h_start} + {TWIN_MARGIN} OR s.start_time >= {h_end} - {TWIN_MARGIN})")
    sql = (f"SELECT v.value AS value, sum(v.cost) AS spent FROM ({parts}) AS v GROUP BY value "
           "ORDER BY spent DESC, value LIMIT {limit:UInt32}")
    rows = store.query(sql, params, "spend_by_value")
    return [(str(value), Decimal(str(spent)).normalize()) for value, spent in rows]  # "0.00012", not "0.000120…"


def _whole_hours(q: SpendQuery, whole: tuple[datetime, datetime] | None) -> tuple[datetime, datetime] | None:
    if whole is None:
        return None
    start, end = ceil_hour(max(q.start, whole[0])), floor_hour(min(q.end, whole[1]))
    return (start, end) if start < end else None


def _rollup_spend(q: SpendQuery) -> str:
    model = " AND r.request_model = {f_model:String}"  # '' = every model
    model += " AND r.value = {value:String}" if q.value is not None else ""
    return (f"SELECT r.value AS value, r.cost_total AS cost FROM {{db}}.{SPEND_TABLE} AS r FINAL "
            "WHERE r.project_id = {project:String} AND r.dimension = {per:String} "
            "AND r.bucket >= {h_start:DateTime64(6, 'UTC')} AND r.bucket < {h_end:DateTime64(6, 'UTC')} "
            f"AND r.calls > 0{model}")


def _raw_spend(q: SpendQuery, call_condition: str, span_condition: str) -> str:
    calls = calls_query(span_condition, with_tags=q.per == "tag", call_condition=call_condition,
                        with_ingest_key=q.per == "ingest_key")
    join = " ARRAY JOIN c.tags AS tag" if q.per == "tag" else ""
    model = " AND c.request_model = {f_model:String}" if q.model else ""
    model += " AND value = {value:String}" if q.value is not None else ""
    return (f"SELECT {SPEND_DIMENSIONS[q.per]} AS value, sum(ifNull(c.cost_total, {_ZERO})) AS cost "
            f"FROM ({calls}) AS c{join} WHERE value != ''{model} GROUP BY value")


_COLUMNS = "(project_id, bucket, dimension, value, request_model, calls, cost_total, computed_at)"
_REFRESH_SQL = (
    f"INSERT INTO {{db}}.{SPEND_TABLE} {_COLUMNS} SELECT c.project_id AS project_id, "
    "toStartOfHour(c.start_time) AS bucket, kv.1 AS dimension, kv.2 AS value, kv.3 AS request_model, "
    f"count() AS calls, sum(ifNull(c.cost_total, {_ZERO})) AS cost_total, "
    "{recomputed:DateTime64(6, 'UTC')} AS computed_at "
    f"FROM ({calls_query(with_tags=True, with_ingest_key=True)}) AS c ARRAY JOIN {_VALUES} AS kv WHERE kv.2 != '' "
    "GROUP BY project_id, bucket, dimension, value, request_model"
)
_ZERO_STALE_SQL = (
    f"INSERT INTO {{db}}.{SPEND_TABLE} {_COLUMNS} SELECT r.project_id, r.bucket, r.dimension, r.value, "
    f"r.request_model, 0, {_ZERO}, {{recomputed:DateTime64(6, 'UTC')}} FROM {{db}}.{SPEND_TABLE} AS r FINAL "
    "WHERE r.project_id = {project:String} AND r.bucket >= {start:DateTime64(6, 'UTC')} "
    "AND r.bucket < {end:DateTime64(6, 'UTC')} AND r.computed_at < {recomputed:DateTime64(6, 'UTC')} AND r.calls > 0"
)
