"""SLO counts: good and total events per SLO and minute (table `slo_minute`, migration 0016).

Writers recompute whole minutes, many SLOs of a project in one pass over its calls (one
`countIf` pair per SLO, ARRAY JOINed into rows), so a tick's cost grows with the minutes that
received spans, not with the number of SLOs. Readers sum the table over every window of every
SLO in one query. Calls come from `calls_query` (twins and redeliveries collapsed), shadow calls
never count (they answered no user), and hallucination verdicts from `span_verdicts_sql`.
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
        store.query(_ZERO_SQL, {**params, "keys": [s.key for s in slos]}, "slo_zero_minutes")
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
    params: dict[str, Any] = {}
    for i, slo in enumerate(slos):
        params[f"s{i}_key"], params[f"s{i}_t"] = slo.key, float(slo.threshold or 0)
        params.update({f"s{i}_{name}": value for name, value in slo.filters})
    return params


def _slo_matches(i: int, slo: SloQuery) -> str:
    """The SLO's filters over call `c`, bound as {s<i>_<name>}."""
    conditions = [f"has(c.{TAGS_COLUMN}, {{s{i}_{name}:String}})" if name == "tag"
                  else f"c.{DIMENSIONS[name]} = {{s{i}_{name}:String}}" for name, _ in slo.filters]
    return " AND ".join(["NOT c.shadow", *conditions])


def _count_calls_sql(slos: Sequence[SloQuery], calls: str) -> str:
    cells = []
    for i, slo in enumerate(slos):
        counted, good = (part.format(t=f"{{s{i}_t:Float64}}") for part in CALL_SLIS[slo.sli])
        match = _slo_matches(i, slo)
        cells.append(f"tuple({{s{i}_key:UInt64}}, countIf({match} AND {counted} AND {good}), "
                     f"countIf({match} AND {counted}))")
    return (_INSERT + "SELECT {project:String}, cell.1, bucket, cell.2, cell.3, {later:DateTime64(6, 'UTC')} "
            f"FROM (SELECT toStartOfMinute(c.start_time) AS bucket, [{', '.join(cells)}] AS cells "
            f"FROM ({calls}) AS c GROUP BY bucket) ARRAY JOIN cells AS cell")


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
