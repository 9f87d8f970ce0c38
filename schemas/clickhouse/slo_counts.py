"""SLO counts: good and total events per SLO and minute (table `slo_minute`, migration 0016).

Writers recompute whole minutes, every SLO of a project in one pass over its calls (the SLOs bound
as arrays, a per-SLO array of counts per minute), so a tick's cost grows with the calls of the
minutes that received spans, and the SQL stays the same size whatever the number of SLOs. Readers sum
the table over every window of every SLO in one query. Calls come from `calls_query` (twins and
redeliveries collapsed), shadow calls never count (they answered no user), and hallucination
verdicts from `span_verdicts_sql`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.clickhouse.call_merge import dirty_key
from schemas.clickhouse.filters import DIMENSIONS, TAGS_COLUMN, filter_params
from schemas.clickhouse.quality import EVALUATIONS_TABLE, span_verdicts_sql
from schemas.clickhouse.queries import TWIN_MARGIN, calls_query
from schemas.clickhouse.store import Store
from schemas.times import ceil_hour, floor_hour

SLO_TABLE = "slo_minute"
HOUR_TABLE = "slo_hour"  # made from the minute table; long windows read whole hours from it
VERDICT_SLI = "hallucination"
# SLI -> (is the call counted, is it good), SQL over a merged call `c`; {t} is the bound threshold.
CALL_SLIS = {
    "latency": ("1", "c.duration_ms <= {t}"),
    "ttft": ("c.ttft_ms IS NOT NULL", "c.ttft_ms IS NOT NULL AND assumeNotNull(c.ttft_ms) <= {t}"),
    "errors": ("1", "c.status_code != 'error'"),
    "cost_per_request": ("c.cost_total IS NOT NULL",
                         "c.cost_total IS NOT NULL AND toFloat64(assumeNotNull(c.cost_total)) <= {t}"),
}
_SLI_CODES = {name: code for code, name in enumerate(CALL_SLIS, start=1)}
_MINUTE = "DateTime('UTC')"
_FILTER_NAMES = ("model", "provider", "service", "environment", "user", "tag")
_INSERT = f"INSERT INTO {{db}}.{SLO_TABLE} (project_id, slo_key, bucket, good, total, computed_at) "


@dataclass(frozen=True)
class SloQuery:
    """What the store needs of an SLO to count it."""

    key: int
    sli: str
    threshold: float | None
    filters: tuple[tuple[str, str], ...]
    window: timedelta


# --- writing ------------------------------------------------------------------------------------


def count_call_minutes(store: Store, project: str, slos: Sequence[SloQuery], start: datetime, end: datetime,
                       minutes: Sequence[datetime] | None = None) -> None:
    """Write the (good, total) rows of these call SLOs for every minute of [start, end) that holds a
    call, or only for `minutes` (then each of them is zeroed first, so a minute whose calls moved
    to a twin's minute reads 0, not its old count)."""
    if not slos:
        return
    computed = datetime.now().astimezone()
    params: dict[str, Any] = {"project": project, "start": start, "end": end, "computed": computed,
                              "later": computed + timedelta(microseconds=1), **_slo_params(slos)}
    if minutes is not None:
        params["minutes"] = list(minutes)
        store.query(_ZERO_SQL, params, "slo_zero_minutes")
    in_minutes = f"toStartOfMinute(c.start_time) IN {{minutes:Array({_MINUTE})}}" if minutes is not None else ""
    calls = calls_query(with_tags=any(k == "tag" for s in slos for k, _ in s.filters), call_condition=in_minutes)
    store.query(_count_calls_sql(slos, calls), params, "slo_count_calls")
    refresh_hours(store, [s.key for s in slos], start, end)


def count_verdict_minutes(store: Store, project: str, slo: SloQuery, start: datetime, end: datetime,
                          minutes: Sequence[datetime] | None = None) -> None:
    """The same for a hallucination SLO: sampled scored calls, good when not judged hallucinated."""
    computed = datetime.now().astimezone()
    filters = dict(slo.filters)
    params: dict[str, Any] = {"project": project, "start": start, "end": end, "computed": computed,
                              "later": computed + timedelta(microseconds=1), "key": slo.key,
                              **filter_params(filters)}
    where = ""
    if minutes is not None:
        params["minutes"], where = list(minutes), f"WHERE bucket IN {{minutes:Array({_MINUTE})}}"
        store.query(_ZERO_SQL, {**params, "keys": [slo.key]}, "slo_zero_minutes")
    sql = (_INSERT + "SELECT {project:String}, {key:UInt64}, toStartOfMinute(v.span_time) AS bucket, "
           "countIf(NOT v.hallucinated), count(), {later:DateTime64(6, 'UTC')} "
           f"FROM ({span_verdicts_sql(filters=filters)}) AS v {where} GROUP BY bucket")
    store.query(sql, params, "slo_count_verdicts")
    refresh_hours(store, [slo.key], start, end)


def refresh_hours(store: Store, keys: Sequence[int], start: datetime, end: datetime) -> None:
    """Remake, from the minute rows, the hour rows of these SLOs that hold a minute of [start, end)."""
    sql = (f"INSERT INTO {{db}}.{HOUR_TABLE} (project_id, slo_key, bucket, good, total, computed_at) "
           "SELECT any(m.project_id), m.slo_key, toStartOfHour(m.bucket) AS hour, sum(m.good), sum(m.total), now64(6) "
           f"FROM {{db}}.{SLO_TABLE} AS m FINAL WHERE m.slo_key IN {{keys:Array(UInt64)}} "
           f"AND m.bucket >= {{start:{_MINUTE}}} AND m.bucket < {{end:{_MINUTE}}} GROUP BY m.slo_key, hour")
    store.query(sql, {"keys": list(keys), "start": floor_hour(start), "end": ceil_hour(end)}, "slo_refresh_hours")


def dirty_call_minutes(store: Store, project: str, since: datetime, not_before: datetime) -> list[datetime]:
    """Minutes from `not_before` on that hold a copy of a call with a span ingested since `since`
    (any copy's minute: a later copy may move the call to its own minute)."""
    params = {"project": project, "since": since, "not_before": not_before}
    return [m for (m,) in store.query(_DIRTY_CALLS_SQL, params, "slo_dirty_call_minutes")]


def dirty_verdict_minutes(store: Store, project: str, since: datetime, not_before: datetime) -> list[datetime]:
    """Minutes (of the scored span) from `not_before` on that received a score since `since`."""
    sql = (f"SELECT DISTINCT toStartOfMinute(e.span_time) AS m FROM {{db}}.{EVALUATIONS_TABLE} AS e "
           "WHERE e.project_id = {project:String} AND e.created_at > {since:DateTime64(6, 'UTC')} "
           "AND e.span_time >= {not_before:DateTime64(6, 'UTC')} ORDER BY m")
    params = {"project": project, "since": since, "not_before": not_before}
    return [m for (m,) in store.query(sql, params, "slo_dirty_verdict_minutes")]


def active_days(store: Store, project: str, start: datetime, end: datetime, *,
                verdicts: bool = False) -> list[datetime]:
    """The UTC days of [start, end) that hold a call (or a scored span): a backfill reads only those."""
    table, column, where = (EVALUATIONS_TABLE, "span_time", "") if verdicts else ("spans", "start_time", "AND is_call")
    sql = (f"SELECT DISTINCT toStartOfDay({column}) AS day FROM {{db}}.{table} WHERE project_id = {{project:String}} "
           f"{where} AND {column} >= {{start:DateTime64(6, 'UTC')}} AND {column} < {{end:DateTime64(6, 'UTC')}} "
           "ORDER BY day")
    rows = store.query(sql, {"project": project, "start": start, "end": end}, "slo_active_days")
    return [day.replace(tzinfo=UTC) for (day,) in rows]


def _slo_params(slos: Sequence[SloQuery]) -> dict[str, Any]:
    """The SLOs as parallel arrays (one element per SLO; '' = no filter on that dimension)."""
    params: dict[str, Any] = {"keys": [s.key for s in slos], "slis": [_SLI_CODES[s.sli] for s in slos],
                              "thresholds": [float(s.threshold or 0) for s in slos]}
    for name in _FILTER_NAMES:
        params[f"f_{name}"] = [dict(s.filters).get(name, "") for s in slos]
    return params


def _matches(name: str) -> str:
    column = (f"has(c.{TAGS_COLUMN}, {{f_{name}:Array(String)}}[i])" if name == "tag"
              else f"c.{DIMENSIONS[name]} = {{f_{name}:Array(String)}}[i]")
    return f"({{f_{name}:Array(String)}}[i] = '' OR {column})"


def _count_calls_sql(slos: Sequence[SloQuery], calls: str) -> str:
    """One query whatever the number of SLOs: per minute, an array of good and one of counted calls
    with an element per SLO (`sumForEach` over a per-call array), ARRAY JOINed into rows. The SQL
    and its planning do not grow with the SLOs (160 countIf for 80 SLOs took ~2 s to plan), and no
    row is multiplied by the SLOs (an ARRAY JOIN of calls and SLOs was 3 s a day of 140k calls)."""
    sli = "{slis:Array(UInt8)}[i]"  # an SLI's code: no string compared per call and SLO
    counted = "multiIf(" + ", ".join(f"{sli} = {_SLI_CODES[name]}, {cond}" for name, (cond, _) in CALL_SLIS.items())
    good = "multiIf(" + ", ".join(f"{sli} = {_SLI_CODES[name]}, {cond}" for name, (_, cond) in CALL_SLIS.items())
    counted, good = counted + ", 0)", good + ", 0)"
    good = good.replace("{t}", "{thresholds:Array(Float64)}[i]")
    uses = {name for s in slos for name, _ in s.filters}
    match = " AND ".join(["NOT c.shadow", *(_matches(name) for name in _FILTER_NAMES if name in uses), counted])
    each = "arrayEnumerate({keys:Array(UInt64)})"
    return (_INSERT + "SELECT {project:String}, k, bucket, g, t, {later:DateTime64(6, 'UTC')} FROM ("
            f"SELECT toStartOfMinute(c.start_time) AS bucket, "
            f"sumForEach(arrayMap(i -> toUInt64({match} AND {good}), {each})) AS goods, "
            f"sumForEach(arrayMap(i -> toUInt64({match}), {each})) AS totals FROM ({calls}) AS c GROUP BY bucket) "
            "ARRAY JOIN goods AS g, totals AS t, {keys:Array(UInt64)} AS k")


# Two arrayJoins in one SELECT give every (key, minute) pair.
_ZERO_SQL = (_INSERT + "SELECT {project:String}, k, m, 0, 0, {computed:DateTime64(6, 'UTC')} "
             f"FROM (SELECT arrayJoin({{keys:Array(UInt64)}}) AS k, arrayJoin({{minutes:Array({_MINUTE})}}) AS m)")
_DIRTY_CALLS_SQL = (
    "SELECT DISTINCT toStartOfMinute(d.start_time) AS minute FROM {db}.spans AS d "
    "WHERE d.project_id = {project:String} AND d.is_call "
    f"AND d.start_time >= {{not_before:DateTime64(6, 'UTC')}} - {TWIN_MARGIN} "
    f"AND {dirty_key('d')} IN (SELECT {dirty_key('n')} FROM {{db}}.spans AS n "
    "WHERE n.project_id = {project:String} AND n.is_call AND n.ingested_at > {since:DateTime64(6, 'UTC')} "
    "AND n.start_time >= {not_before:DateTime64(6, 'UTC')}) ORDER BY minute"
)


# --- reading ------------------------------------------------------------------------------------


def window_counts(store: Store, slos: Sequence[SloQuery], end: datetime,
                  windows: Sequence[tuple[str, timedelta]]) -> dict[int, dict[str, tuple[int, int]]]:
    """(good, total) of each SLO over each named window and over its own window ("slo"), all
    ending at `end` (exclusive, a minute bound), in one read; an SLO without rows maps to zeros.

    The named (burn) windows sum minutes. An SLO's own window sums its whole hours from the hour
    table and only the minutes of its two partial hours (before its first whole hour, and from the
    last hour's start to `end`), so the rows read do not grow with the window's length.
    """
    if not slos:
        return {}
    starts = [end - s.window for s in slos]
    params: dict[str, Any] = {
        "keys": [s.key for s in slos], "starts": starts, "firsts": [ceil_hour(t) for t in starts], "end": end,
        "hour_end": floor_hour(end), "recent": end - max(length for _, length in windows),
        "first_hour": min(ceil_hour(t) for t in starts),
        **{f"w{i}": end - length for i, (_, length) in enumerate(windows)},
    }
    edges = sorted({(t, ceil_hour(t)) for t in starts})
    params.update({f"e{j}_lo": low for j, (low, _) in enumerate(edges)})
    params.update({f"e{j}_hi": high for j, (_, high) in enumerate(edges)})
    found = {row[0]: row[1:] for row in store.query(_window_sql(len(windows), len(edges)), params, "slo_window_counts")}
    names = ["slo", *(name for name, _ in windows)]
    return {s.key: _named(names, found.get(s.key)) for s in slos}


def _per_slo(array: str) -> str:
    return f"transform(slo_key, {{keys:Array(UInt64)}}, {{{array}:Array({_MINUTE})}}, toDateTime(0, 'UTC'))"


def _window_sql(window_count: int, edge_count: int) -> str:
    own = (f"bucket >= {_per_slo('starts')} AND (bucket < {_per_slo('firsts')} "
           f"OR bucket >= {{hour_end:{_MINUTE}}})")
    burn = ", ".join(f"if(bucket >= {{w{i}:{_MINUTE}}}, good, 0) AS g{i}, if(bucket >= {{w{i}:{_MINUTE}}}, total, 0) "
                     f"AS t{i}" for i in range(window_count))
    zeros = ", ".join(f"toUInt64(0) AS g{i}, toUInt64(0) AS t{i}" for i in range(window_count))
    sums = ", ".join(f"sum(g{i}), sum(t{i})" for i in range(window_count))
    edges = " OR ".join(f"(bucket >= {{e{j}_lo:{_MINUTE}}} AND bucket < {{e{j}_hi:{_MINUTE}}})"
                        for j in range(edge_count))
    keys = "slo_key IN {keys:Array(UInt64)}"
    return (
        f"SELECT slo_key, sum(og), sum(ot), {sums} FROM ("
        f"SELECT slo_key, if({own}, good, 0) AS og, if({own}, total, 0) AS ot, {burn} "
        f"FROM {{db}}.{SLO_TABLE} FINAL WHERE {keys} AND bucket < {{end:{_MINUTE}}} "
        f"AND (bucket >= {{recent:{_MINUTE}}} OR {edges}) "
        f"UNION ALL SELECT slo_key, good AS og, total AS ot, {zeros} FROM {{db}}.{HOUR_TABLE} FINAL "
        f"WHERE {keys} AND bucket >= {{first_hour:{_MINUTE}}} AND bucket < {{hour_end:{_MINUTE}}} "
        f"AND bucket >= {_per_slo('firsts')}) GROUP BY slo_key"
    )


def _named(names: list[str], row: Sequence[int] | None) -> dict[str, tuple[int, int]]:
    values = list(row) if row else [0] * (2 * len(names))
    return {name: (int(values[2 * i]), int(values[2 * i + 1])) for i, name in enumerate(names)}
