"""SLO counts: good and total events per SLO and minute (table `slo_minute`, migration 0016).

Writers recompute whole minutes, every SLO of a project in one pass over its calls (each call
joined with the SLOs it matches, the SLOs bound as arrays), so a tick's cost grows with the calls
of the minutes that received spans times the SLOs, and the SQL stays the same size. Readers sum
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

SLO_TABLE = "slo_minute"
VERDICT_SLI = "hallucination"
# SLI -> (is the call counted, is it good), SQL over a merged call `c`; {t} is the bound threshold.
CALL_SLIS = {
    "latency": ("1", "c.duration_ms <= {t}"),
    "ttft": ("c.ttft_ms IS NOT NULL", "c.ttft_ms IS NOT NULL AND assumeNotNull(c.ttft_ms) <= {t}"),
    "errors": ("1", "c.status_code != 'error'"),
    "cost_per_request": ("c.cost_total IS NOT NULL",
                         "c.cost_total IS NOT NULL AND toFloat64(assumeNotNull(c.cost_total)) <= {t}"),
}
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
    params: dict[str, Any] = {"keys": [s.key for s in slos], "slis": [s.sli for s in slos],
                              "thresholds": [float(s.threshold or 0) for s in slos]}
    for name in _FILTER_NAMES:
        params[f"f_{name}"] = [dict(s.filters).get(name, "") for s in slos]
    return params


def _matches(name: str) -> str:
    column = (f"has(c.{TAGS_COLUMN}, {{f_{name}:Array(String)}}[i])" if name == "tag"
              else f"c.{DIMENSIONS[name]} = {{f_{name}:Array(String)}}[i]")
    return f"({{f_{name}:Array(String)}}[i] = '' OR {column})"


def _count_calls_sql(slos: Sequence[SloQuery], calls: str) -> str:
    """One query whatever the number of SLOs: each call is joined with every SLO (ARRAY JOIN of the
    SLO index), kept when it matches the SLO's filters and counts for its SLI. The SQL's size and
    its planning no longer grow with the SLOs (160 countIf for 80 SLOs took ~2 s to plan)."""
    sli = "{slis:Array(String)}[i]"
    counted = "multiIf(" + ", ".join(f"{sli} = '{name}', {cond}" for name, (cond, _) in CALL_SLIS.items()) + ", 0)"
    good = "multiIf(" + ", ".join(f"{sli} = '{name}', {cond}" for name, (_, cond) in CALL_SLIS.items()) + ", 0)"
    good = good.replace("{t}", "{thresholds:Array(Float64)}[i]")
    uses = {name for s in slos for name, _ in s.filters}
    where = " AND ".join(["NOT c.shadow", *(_matches(name) for name in _FILTER_NAMES if name in uses), counted])
    return (_INSERT + "SELECT {project:String}, {keys:Array(UInt64)}[i] AS slo_key, toStartOfMinute(c.start_time) "
            f"AS bucket, countIf({good}), count(), {{later:DateTime64(6, 'UTC')}} FROM ({calls}) AS c "
            "ARRAY JOIN arrayEnumerate({keys:Array(UInt64)}) AS i "
            f"WHERE {where} GROUP BY slo_key, bucket")


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
    ending at `end` (exclusive, a minute bound), in one read; an SLO without rows maps to zeros."""
    if not slos:
        return {}
    columns = ", ".join(f"sumIf(good, bucket >= {{w{i}:{_MINUTE}}}), sumIf(total, bucket >= {{w{i}:{_MINUTE}}})"
                        for i in range(len(windows)))
    own = "{end:DateTime('UTC')} - toIntervalSecond(transform(slo_key, {keys:Array(UInt64)}, {spans:Array(UInt64)}, 0))"
    sql = (f"SELECT slo_key, sumIf(good, bucket >= {own}), sumIf(total, bucket >= {own}), {columns} "
           f"FROM {{db}}.{SLO_TABLE} FINAL WHERE slo_key IN {{keys:Array(UInt64)}} "
           f"AND bucket >= {{floor:{_MINUTE}}} AND bucket < {{end:{_MINUTE}}} GROUP BY slo_key")
    params: dict[str, Any] = {
        "keys": [s.key for s in slos], "spans": [int(s.window.total_seconds()) for s in slos], "end": end,
        "floor": end - max([s.window for s in slos] + [w for _, w in windows]),
        **{f"w{i}": end - length for i, (_, length) in enumerate(windows)},
    }
    found = {row[0]: row[1:] for row in store.query(sql, params, "slo_window_counts")}
    names = ["slo", *(name for name, _ in windows)]
    return {s.key: _named(names, found.get(s.key)) for s in slos}


def _named(names: list[str], row: Sequence[int] | None) -> dict[str, tuple[int, int]]:
    values = list(row) if row else [0] * (2 * len(names))
    return {name: (int(values[2 * i]), int(values[2 * i + 1])) for i, name in enumerate(names)}
