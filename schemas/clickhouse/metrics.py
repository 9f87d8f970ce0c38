"""Call metrics: the per-minute rollup and the time series read from it.

Both sides speak one intermediate form, *state rows* (counts, sums and aggregate-function states
per minute and group), so a series can be merged from the rollup for minutes already rolled up
and from the raw, deduplicated calls for the newest minutes: fresh to the second, cheap over
months. Metric formulas are data (`METRICS`), written once over state rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.clickhouse.call_merge import dirty_key
from schemas.clickhouse.filters import DIMENSIONS, filter_conditions, filter_params
from schemas.clickhouse.histograms import EMPTY_HISTOGRAMS, HISTOGRAM_STATES, HOUR_HISTOGRAMS
from schemas.clickhouse.metric_formulas import HOUR_FROM_MINUTES, METRICS, STATE_COLUMNS
from schemas.clickhouse.queries import TWIN_MARGIN, calls_query
from schemas.clickhouse.shadow_split import split_state_rows
from schemas.clickhouse.spend_rollup import refresh_spend_hours
from schemas.clickhouse.store import Store
from schemas.shadow_fields import SHADOW_SPLIT
from schemas.times import HOUR, ceil_hour, floor_hour, iso_utc
from schemas.times import floor_minute as _minute

ROLLUP_TABLE = "call_metrics_minute"
HOUR_TABLE = "call_metrics_hour"  # made from the minute table (migration 0004)
BUCKETS = {"minute": "1 MINUTE", "hour": "1 HOUR", "day": "1 DAY"}
ROLLUP_DIMENSIONS = ("model", "provider", "service", "environment")
# Key columns of a rollup row; `shadow` (migration 0010) keeps shadow calls apart (`shadow_split`).
_ROLLUP_COLUMNS = ("request_model", "provider", "service_name", "environment", "shadow")

# A row's columns beyond its key (+ histograms, for Prometheus only), named in inserts: 0014 added some.
ROLLUP_STATES = {**STATE_COLUMNS, **HISTOGRAM_STATES}
_HOUR_STATES = {**HOUR_FROM_MINUTES, **HOUR_HISTOGRAMS}  # an hour's row from its minutes' rows


@dataclass(frozen=True)
class RollupSpan:
    """Minutes in [start, end) are whole in the rollup; readers take the rest from raw calls."""

    start: datetime
    end: datetime
    spend_start: datetime | None = None  # spend per user/tag (`spend_rollup`) is whole from here to `end`


@dataclass(frozen=True)
class SeriesQuery:
    project: str
    metrics: tuple[str, ...]
    start: datetime
    end: datetime
    bucket: str = "hour"
    group_by: str | None = None
    filters: dict[str, str] = field(default_factory=dict)
    shadow: str = SHADOW_SPLIT  # how shadow calls count (`schemas.shadow_fields`)

    @property
    def needs_raw(self) -> bool:
        """User, session and tag are not rollup dimensions: such series come from raw calls."""
        names = {*self.filters, *([self.group_by] if self.group_by else [])}
        return not names <= set(ROLLUP_DIMENSIONS)


# --- rollup maintenance ---------------------------------------------------------------------------


def dirty_projects(store: Store, since: datetime) -> list[str]:
    """Projects that received calls since `since` (ingest time), so their minutes need recomputing."""
    sql = ("SELECT DISTINCT project_id FROM {db}.spans "
           "WHERE ingested_at > {since:DateTime64(6, 'UTC')} AND is_call ORDER BY project_id")
    return [row[0] for row in store.query(sql, {"since": since}, "metrics_dirty_projects")]


def refresh_rollup(store: Store, project: str, since: datetime, not_before: datetime) -> int:
    """Recompute, whole, every minute from `not_before` on of `project` that holds a call with a
    span ingested since `since` (any copy's minute: a later copy may move the call to its own
    minute); returns calls read.

    One INSERT per day touched keeps memory bounded (the twin-collapsing GROUP BY holds a day of
    calls, not the whole backlog) and time linear in the spans read.
    """
    params: dict[str, Any] = {"project": project, "since": since, "not_before": not_before}
    days = store.query(
        "SELECT toStartOfDay(start_time) AS day, min(start_time), max(start_time), count() FROM {db}.spans "
        "WHERE project_id = {project:String} AND is_call AND ingested_at > {since:DateTime64(6, 'UTC')} "
        "AND start_time >= {not_before:DateTime64(6, 'UTC')} GROUP BY day ORDER BY day", params, "metrics_dirty_days")
    for _, low, high, _ in days:
        window = {**params, "start": _minute(low), "end": _minute(high) + timedelta(minutes=1)}
        minutes = [m for (m,) in store.query(_DIRTY_MINUTES_SQL, window, "metrics_dirty_minutes")
                   if m.replace(tzinfo=UTC) >= _minute(not_before)]
        if minutes:
            _recompute_minutes(store, project, minutes)
    return sum(int(count) for *_, count in days)


def _recompute_minutes(store: Store, project: str, minutes: list[datetime]) -> None:
    """The minutes' rows, made again from their calls; a row whose group no longer has a call in
    its minute (its call moved to a twin's minute, or took another service's name) is zeroed."""
    params = {"project": project, "minutes": minutes, "start": min(minutes),
              "end": max(minutes) + timedelta(minutes=1), "recomputed": datetime.now(UTC)}
    store.query(_REFRESH_SQL, params, "metrics_refresh_rollup")
    store.query(_ZERO_STALE_SQL, params, "metrics_zero_stale_rows")
    refresh_hours(store, project, params["start"], max(minutes))


def refresh_hours(store: Store, project: str, start: datetime, end: datetime) -> None:
    """Remake, from the minute rollup, every hour of `project` that holds a minute of [start, end]."""
    params = {"project": project, "start": floor_hour(start), "end": floor_hour(end) + HOUR}
    store.query(_HOURS_SQL, params, "metrics_refresh_hours")
    refresh_spend_hours(store, project, params["start"], params["end"])


def rollup_range(store: Store, project: str, start: datetime, end: datetime) -> int:
    """Recompute every minute of [start, end) (a backfill); returns calls read."""
    params = {"project": project, "start": start, "end": end}
    store.query(_RANGE_SQL, params, "metrics_rollup_range")
    refresh_hours(store, project, start, end - timedelta(microseconds=1))
    sql = ("SELECT count() FROM {db}.spans WHERE project_id = {project:String} AND is_call "
           "AND start_time >= {start:DateTime64(6, 'UTC')} AND start_time < {end:DateTime64(6, 'UTC')}")
    return int(store.query(sql, params, "metrics_rollup_range_count")[0][0])


def projects_with_calls(store: Store, start: datetime, end: datetime) -> list[str]:
    sql = ("SELECT DISTINCT project_id FROM {db}.spans WHERE is_call AND start_time >= {start:DateTime64(6, 'UTC')} "
           "AND start_time < {end:DateTime64(6, 'UTC')} ORDER BY project_id")
    return [row[0] for row in store.query(sql, {"start": start, "end": end}, "metrics_projects_between")]


def has_calls(store: Store, project: str) -> bool:
    """Whether `project` ever received a call: an empty range of a live project is not a fresh install."""
    sql = "SELECT 1 FROM {db}.spans WHERE project_id = {project:String} AND is_call LIMIT 1"
    return bool(store.query(sql, {"project": project}, "metrics_has_calls"))


def oldest_call(store: Store) -> datetime | None:
    rows = store.query("SELECT min(start_time), count() FROM {db}.spans WHERE is_call", {}, "metrics_oldest")
    return rows[0][0].replace(tzinfo=UTC) if rows and rows[0][1] else None


# Minutes of every copy of the calls that got a span since `since` (by a 64-bit hash of the call:
# a collision only recomputes a minute more).
_DIRTY_MINUTES_SQL = (
    "SELECT DISTINCT toStartOfMinute(d.start_time) AS minute FROM {db}.spans AS d "
    "WHERE d.project_id = {project:String} AND d.is_call "
    f"AND d.start_time >= {{start:DateTime64(6, 'UTC')}} - {TWIN_MARGIN} "
    f"AND d.start_time < {{end:DateTime64(6, 'UTC')}} + {TWIN_MARGIN} "
    f"AND {dirty_key('d')} IN (SELECT {dirty_key('n')} FROM {{db}}.spans AS n "
    "WHERE n.project_id = {project:String} AND n.is_call AND n.ingested_at > {since:DateTime64(6, 'UTC')} "
    "AND n.start_time >= {start:DateTime64(6, 'UTC')} AND n.start_time < {end:DateTime64(6, 'UTC')}) "
    "ORDER BY minute"
)
_IN_MINUTES = "toStartOfMinute(c.start_time) IN {minutes:Array(DateTime('UTC'))}"
# The twin-collapsing GROUP BY holds every call it rolls up, ~1.5 KB each before calls were keyed
# by a hash (queries.CALL_IDENTITY): a refresh of 300k calls (half a minute at 10k spans/s) took
# +470 MB in-process. Past this size ClickHouse spills the aggregation to disk instead (that
# refresh: 0.8 -> 3 s), so a pass's memory no longer grows with the ingest rate.
_ROLLUP_GROUP_BY_BYTES = 128 * 2**20


# Every rollup INSERT names its columns: a column a migration adds is then filled by name, wherever it stands.
_INSERT_COLUMNS = ", ".join(("project_id", "bucket", *_ROLLUP_COLUMNS, *ROLLUP_STATES, "computed_at"))


def _rollup_insert(calls: str) -> str:
    return (
        f"INSERT INTO {{db}}.{ROLLUP_TABLE} ({_INSERT_COLUMNS}) SELECT c.project_id AS project_id, "
        "toStartOfMinute(c.start_time) AS bucket, " + ", ".join(f"c.{col} AS {col}" for col in _ROLLUP_COLUMNS)
        + ", " + ", ".join(f"{expr} AS {name}" for name, expr in ROLLUP_STATES.items())
        + f", now64(6) AS computed_at FROM ({calls}) AS c GROUP BY project_id, bucket, {', '.join(_ROLLUP_COLUMNS)}"
        + f" SETTINGS max_bytes_before_external_group_by = {_ROLLUP_GROUP_BY_BYTES}"
    )


_REFRESH_SQL = _rollup_insert(calls_query(call_condition=_IN_MINUTES, with_signals=True))
# Rows of the recomputed minutes that the recomputation did not write again: counts and money 0,
# empty states (a -StateIf never true has the column's type), newer than the row they replace.
_EMPTY_STATES = {
    "traces": "uniqStateIf('', 0)", "users": "uniqStateIf('', 0)",
    "latency": "quantilesTDigestStateIf(0.5, 0.95, 0.99)(toFloat64(0), 0)",
    "ttft": "quantilesTDigestStateIf(0.5, 0.95, 0.99)(toFloat64(0), 0)", **EMPTY_HISTOGRAMS,
}
# Readers skip zeroed rows (`requests > 0`: a row that counts anything counts a call).
_ZERO_STALE_SQL = (
    f"INSERT INTO {{db}}.{ROLLUP_TABLE} ({_INSERT_COLUMNS}) SELECT m.project_id AS project_id, m.bucket AS bucket, "
    + ", ".join(f"m.{col} AS {col}" for col in _ROLLUP_COLUMNS) + ", "
    + ", ".join(f"{_EMPTY_STATES.get(name, '0')} AS {name}" for name in ROLLUP_STATES)
    + f", now64(6) AS computed_at FROM {{db}}.{ROLLUP_TABLE} AS m FINAL WHERE m.project_id = {{project:String}} "
    "AND m.bucket IN {minutes:Array(DateTime('UTC'))} AND m.computed_at < {recomputed:DateTime64(6, 'UTC')} "
    f"GROUP BY project_id, bucket, {', '.join(_ROLLUP_COLUMNS)}"
)
_RANGE_SQL = _rollup_insert(calls_query(with_signals=True))
_HOURS_SQL = (
    f"INSERT INTO {{db}}.{HOUR_TABLE} ({_INSERT_COLUMNS}) "
    "SELECT m.project_id AS project_id, toStartOfHour(m.bucket) AS bucket, "
    + ", ".join(f"m.{col} AS {col}" for col in _ROLLUP_COLUMNS) + ", "
    + ", ".join(f"{_HOUR_STATES[name]} AS {name}" for name in ROLLUP_STATES)
    + f", now64(6) AS computed_at FROM {{db}}.{ROLLUP_TABLE} AS m FINAL WHERE m.project_id = {{project:String}} "
    "AND m.bucket >= {start:DateTime64(6, 'UTC')} AND m.bucket < {end:DateTime64(6, 'UTC')} "
    f"GROUP BY project_id, bucket, {', '.join(_ROLLUP_COLUMNS)}"
)


# --- reads ---------------------------------------------------------------------------------------


def timeseries(store: Store, q: SeriesQuery, rollup: RollupSpan | None) -> dict[str, Any]:
    """Points per bucket (and group) for each metric in `q.metrics`; buckets without calls are absent."""
    params = _params(q)
    key = _group_expression(q.group_by)
    values = ", ".join(f"{METRICS[m]} AS `{m}`" for m in q.metrics)
    sql = (f"SELECT toStartOfInterval(r.bucket, INTERVAL {BUCKETS[q.bucket]}, 'UTC') AS t, r.key AS key, "
           f"{values} FROM ({_state_rows(q, key, rollup, params)}) AS r GROUP BY t, key ORDER BY key, t")
    rows = store.query_dicts(sql, params, "metrics_timeseries")
    return {"bucket": q.bucket, "group_by": q.group_by, "metrics": list(q.metrics), "series": _series(rows, q)}


def window_values(store: Store, q: SeriesQuery, rollup: RollupSpan | None) -> dict[str, Any]:
    """Each metric of `q.metrics` over the whole window (alert rules, budgets, KPI tiles)."""
    params = _params(q)
    values = ", ".join(f"{METRICS[m]} AS `{m}`" for m in q.metrics)
    states = _state_rows(q, _group_expression(None), rollup, params)
    sql = f"SELECT {values} FROM ({states}) AS r"
    row = store.query_dicts(sql, params, "metrics_window")[0]
    return {m: _number(row[m]) for m in q.metrics}


def grouped_values(store: Store, q: SeriesQuery, rollup: RollupSpan | None, *, order: str, limit: int,
                   having: str = "", tag: str = "metrics_grouped") -> list[dict[str, Any]]:
    """Each metric over the whole window per `q.group_by` key (spend by model, by user, …), in one query."""
    if not q.group_by:
        raise ValueError("a grouped read needs group_by")
    params = {**_params(q), "limit": limit}
    values = ", ".join(f"{METRICS[m]} AS `{m}`" for m in q.metrics)
    states = _state_rows(q, _group_expression(q.group_by), rollup, params)
    sql = (f"SELECT r.key AS key, {values} FROM ({states}) AS r GROUP BY key {having} "
           f"ORDER BY {order} LIMIT {{limit:UInt32}}")
    return [{"key": row["key"], **{m: _number(row[m]) for m in q.metrics}}
            for row in store.query_dicts(sql, params, tag)]


def dimension_values(store: Store, q: SeriesQuery, rollup: RollupSpan | None, names: tuple[str, ...],
                     limit: int) -> dict[str, list[str]]:
    """The values each rollup dimension in `names` took in the window, busiest first: one read for
    a whole filter bar. `q.filters` are ignored, so a chosen filter still offers its alternatives."""
    unknown = sorted(set(names) - set(ROLLUP_DIMENSIONS))
    if unknown:
        raise ValueError(f"{unknown[0]!r} is not a rollup dimension")
    q = SeriesQuery(q.project, ("requests",), q.start, q.end)
    params = {**_params(q), "limit": limit}
    key = "[" + ", ".join(f"('{name}', toString(c.{DIMENSIONS[name]}))" for name in names) + "]"
    sql = (f"SELECT kv.1 AS dimension, kv.2 AS value, sum(r.requests) AS requests "
           f"FROM ({_state_rows(q, key, rollup, params)}) AS r ARRAY JOIN r.key AS kv WHERE value != '' "
           "GROUP BY dimension, value ORDER BY dimension, requests DESC, value LIMIT {limit:UInt32} BY dimension")
    found: dict[str, list[str]] = {name: [] for name in names}
    for row in store.query_dicts(sql, params, "dimension_values"):
        found[row["dimension"]].append(row["value"])
    return found


def _params(q: SeriesQuery) -> dict[str, Any]:
    return {"project": q.project, "start": q.start, "end": q.end, **filter_params(q.filters)}


def _group_expression(group_by: str | None) -> str:
    return f"c.{DIMENSIONS[group_by]}" if group_by else "''"


def _state_rows(q: SeriesQuery, key: str, rollup: RollupSpan | None, params: dict[str, Any]) -> str:
    """State rows for the window, shadow calls counted as `q.shadow` says."""
    return split_state_rows(_shadowed_state_rows(q, key, rollup, params), q.shadow, list(STATE_COLUMNS))


def _shadowed_state_rows(q: SeriesQuery, key: str, rollup: RollupSpan | None, params: dict[str, Any]) -> str:
    """State rows with their `shadow` flag: whole hours inside the rollup's span from the hourly table
    (unless the buckets are minutes), the other minutes inside it from the minute table, the rest from raw calls."""
    if q.needs_raw or rollup is None or rollup.end <= q.start or rollup.start >= q.end:
        return _raw_states(q, key, "")
    params["r_start"], params["r_end"] = rollup.start, rollup.end
    start, end = "toStartOfMinute({r_start:DateTime64(6, 'UTC')})", "toStartOfMinute({r_end:DateTime64(6, 'UTC')})"
    raw = _raw_states(q, key, f"(c.start_time < {start} OR c.start_time >= {end})",
                      f"(s.start_time < {start} + {TWIN_MARGIN} OR s.start_time >= {end} - {TWIN_MARGIN})")
    hours = _whole_hours(q, rollup)
    if hours is None:
        return f"{_rollup_states(q, key, f'c.bucket >= {start} AND c.bucket < {end}')} UNION ALL {raw}"
    params["h_start"], params["h_end"] = hours
    h_start, h_end = "{h_start:DateTime64(6, 'UTC')}", "{h_end:DateTime64(6, 'UTC')}"
    hourly = _rollup_states(q, key, f"c.bucket >= {h_start} AND c.bucket < {h_end}", HOUR_TABLE)
    minutes = _rollup_states(q, key, f"c.bucket >= {start} AND c.bucket < {end} "
                                     f"AND (c.bucket < {h_start} OR c.bucket >= {h_end})")
    return f"{hourly} UNION ALL {minutes} UNION ALL {raw}"


def _whole_hours(q: SeriesQuery, rollup: RollupSpan) -> tuple[datetime, datetime] | None:
    """The whole hours both in the window and in the rollup's span, when hour rows may serve."""
    if q.bucket == "minute":
        return None
    start, end = ceil_hour(max(q.start, rollup.start)), floor_hour(min(q.end, rollup.end))
    return (start, end) if start < end else None


def _raw_states(q: SeriesQuery, key: str, call_condition: str, span_condition: str = "") -> str:
    """State rows from raw calls. `call_condition` picks merged calls outside the rollup;
    `span_condition` keeps only the spans that may be copies of those (within the twin margin of
    the rollup's bounds), or every call of the window would be merged to find the few of its tail:
    the month-to-date budget read 2.9 s at 1M spans for a 15-minute tail."""
    calls = calls_query(span_condition, time_filtered=True, with_tags=q.group_by == "tag" or "tag" in q.filters,
                        call_condition=call_condition, with_signals=True)
    if q.group_by == "tag" or "tag" in q.filters:
        calls = f"SELECT *, tag FROM ({calls}) ARRAY JOIN if(empty(tags), [''], tags) AS tag"
    states = ", ".join(f"{expr} AS {name}" for name, expr in STATE_COLUMNS.items())
    return (f"SELECT toStartOfMinute(c.start_time) AS bucket, {key} AS key, c.shadow AS shadow, {states} "
            f"FROM ({calls}) AS c {_where(q.filters)} GROUP BY bucket, key, shadow")


def _rollup_states(q: SeriesQuery, key: str, condition: str, table: str = ROLLUP_TABLE) -> str:
    columns = ", ".join(f"c.{name} AS {name}" for name in STATE_COLUMNS)
    filters = " ".join(f"AND {c}" for c in filter_conditions(q.filters, "c"))
    return (f"SELECT c.bucket AS bucket, {key} AS key, c.shadow AS shadow, {columns} FROM {{db}}.{table} AS c FINAL "
            f"WHERE c.project_id = {{project:String}} AND c.bucket >= toStartOfMinute({{start:DateTime64(6, 'UTC')}}) "
            f"AND c.bucket < {{end:DateTime64(6, 'UTC')}} AND c.requests > 0 AND {condition} {filters}")


def _where(filters: dict[str, str]) -> str:
    """The filters over raw calls `c`: a tag one over the tag the calls were joined with (`_raw_states`)."""
    if not filters:
        return ""
    return "WHERE " + " AND ".join("c.tag = {f_tag:String}" if n == "tag" else condition
                                   for n, condition in zip(filters, filter_conditions(filters, "c"), strict=True))


def _series(rows: list[dict[str, Any]], q: SeriesQuery) -> list[dict[str, Any]]:
    series: dict[str, dict[str, Any]] = {}
    for row in rows:
        entry = series.setdefault(row["key"], {"key": row["key"], "points": []})
        point = {"t": iso_utc(row["t"])}  # ClickHouse hands the bucket back without its UTC offset
        point.update({m: _number(row[m]) for m in q.metrics})
        entry["points"].append(point)
    return list(series.values())


def _number(value: Any) -> float | int | None:
    if value is None:
        return None
    if isinstance(value, int):
        return value
    number = float(value)
    return None if number != number else round(number, 12)  # NaN → null
