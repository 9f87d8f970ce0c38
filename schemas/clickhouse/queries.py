"""Read queries, one function per query shape, named by intent.

Every query is scoped to a project, binds its values as ClickHouse `{name:Type}` parameters and
is tagged with a log_comment. Redelivered spans collapse under FINAL; one LLM call traced by two
instrumentations (same trace, same response id → same `call_key`; a failed call's copies by
`call_merge`) is collapsed by `CALLS`, which keeps the most informative of the twins (priced, with
cache tokens, with more tokens).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from schemas.clickhouse import trace_page
from schemas.clickhouse.call_merge import TRACE_CALLS, merged_call_spans
from schemas.clickhouse.filters import SIGNAL, SIGNALS, filter_conditions, filter_params, signal_condition
from schemas.clickhouse.shadow_split import SHADOW_FLAG, shadow_condition
from schemas.clickhouse.store import Store
from schemas.fields import SIGNAL_FIELDS
from schemas.shadow_fields import SHADOW_SPLIT
from schemas.times import iso_utc


def time_range(alias: str = "") -> str:
    prefix = f"{alias}." if alias else ""
    return (f"{prefix}start_time >= {{start:DateTime64(6, 'UTC')}} "
            f"AND {prefix}start_time < {{end:DateTime64(6, 'UTC')}}")


# The copies of one call (a redelivery, two instrumentations tracing it) start within seconds of
# each other: spans are read this far beyond a window, and the window then applies to merged calls.
TWIN_MARGIN = "INTERVAL 10 MINUTE"
_TWIN_WIDE_RANGE = (f"s.start_time >= {{start:DateTime64(6, 'UTC')}} - {TWIN_MARGIN} "
                    f"AND s.start_time < {{end:DateTime64(6, 'UTC')}} + {TWIN_MARGIN}")

# Which twin of a call to keep: priced first, then more cache tokens, then more tokens, as one UInt64
# (a tuple with a string was 5x slower in argMax); the low byte, from the span id, breaks ties.
# Column references are qualified (s.) because the aggregates reuse the column names as aliases.
# A refused (NULL) count ranks as 0: a Nullable rank would make every argMax Nullable.
_RANK = (
    "bitOr(bitShiftLeft(toUInt64(s.cost_total IS NOT NULL), 63), "
    "bitOr(bitShiftLeft(least(toUInt64(ifNull(s.cache_read_tokens, 0) + ifNull(s.cache_write_tokens, 0)), "
    "8388607), 40), "
    "bitOr(bitShiftLeft(least(toUInt64(ifNull(s.total_tokens, 0)), 4294967295), 8), cityHash64(s.span_id) % 256)))"
)
_CALL_COLUMNS = (
    "request_model", "response_model", "provider", "service_name", "environment", "user_id", "session_id",
    "status_code", "duration_ms", "ttft_ms", "input_tokens", "output_tokens", "cache_read_tokens",
    "cache_write_tokens", "reasoning_tokens", "cost_total", "cost_input", "cost_cache_read", "cost_source",
    "cache_hit", "start_time", "span_type", "shadow_of",
)

# A refused token count (NULL, collector/counts.py) adds nothing to a call's totals: 0 here, so every
# sum over calls stays a number (a window of refused counts only sums to 0, not NULL).
_CALL_VALUES = {c: f"ifNull(s.{c}, 0)" for c in _CALL_COLUMNS if c.endswith("_tokens")}


# A call is grouped by a 128-bit hash of its identity, not by the three strings: string keys are
# copied into the GROUP BY's arena, ~550 of the ~800 bytes a call held (a summary of 300k calls:
# +239 MB, now +73 MB, and faster). Two calls of ~10^9 share a hash with odds of ~10^-21.
CALL_IDENTITY = "sipHash128(s.project_id, s.trace_id, s.merge_key)"
_RANK_COLUMNS = ("project_id", "trace_id", "call_key", "span_id", "total_tokens")


# A call carries a failure signal when any copy of it does: one instrumentation may record the
# content a check needs while its twin does not.
_SIGNAL_VALUES = ", ".join(f"max(s.{c}) AS {c}" for c in SIGNAL_FIELDS)


def calls_query(condition: str = "", *, time_filtered: bool = True, with_tags: bool = False,
                call_condition: str = "", with_signals: bool = False, with_ingest_key: bool = False) -> str:
    """One row per LLM or embedding call of `{project}` (in `{start}`..`{end}`), twins collapsed.

    No FINAL: grouping by (trace, merge key: `call_merge`) already collapses a redelivered span
    (same trace and span id, so the same key) along with twins, and skipping the merge-on-read
    halves the cost.
    `condition` filters spans and must hold for every copy of a call alike (its trace, say); the
    window and `call_condition` (over `c.`, the merged call) apply once copies are merged, so a call
    whose copies lie on both sides of a bound is one call, in the window of the copy that is kept.
    `with_signals` adds the failure signal columns (the rollups and a `signal` filter read them);
    `with_ingest_key` the id of the ingest key that sent the call (migration 0019; '' for none).
    """
    columns = (*_CALL_COLUMNS, *(("tags",) if with_tags else ()), *(("ingest_key",) if with_ingest_key else ()))
    signals = f", {_SIGNAL_VALUES}" if with_signals else ""
    read = (*_RANK_COLUMNS, *columns, *(SIGNAL_FIELDS if with_signals else ()))
    where = ["s.project_id = {project:String}", "s.is_call"]
    where += [_TWIN_WIDE_RANGE] if time_filtered else []
    where += [condition] if condition else []
    merged = (
        "SELECT any(s.project_id) AS project_id, any(s.trace_id) AS trace_id, any(s.call_key) AS call_key, "
        + ", ".join(f"argMax({_CALL_VALUES.get(c, 's.' + c)}, {_RANK}) AS {c}" for c in columns)
        + f", {SHADOW_FLAG}{signals}"
        + f" FROM ({merged_call_spans(read, where)}) AS s GROUP BY {CALL_IDENTITY}"
    )
    keep = ([time_range("c")] if time_filtered else []) + ([call_condition] if call_condition else [])
    return f"SELECT * FROM ({merged}) AS c WHERE {' AND '.join(keep)}" if keep else merged


CALLS = calls_query()

GROUP_KEYS = {
    "model": "request_model",
    "response_model": "response_model",
    "provider": "provider",
    "service": "service_name",
    "user": "user_id",
    "environment": "environment",
}

def _summary_fields(mode: str) -> str:
    """The summary's aggregates over calls `c`; under `split` the per-request ones skip shadow calls."""
    k = "NOT c.shadow" if mode == SHADOW_SPLIT else "1"
    return f"""
    count() AS calls,
    countIf({k}) AS requests,
    countIf(c.status_code = 'error' AND {k}) AS errors,
    sum(c.input_tokens) AS input_tokens,
    sum(c.output_tokens) AS output_tokens,
    sum(c.cache_read_tokens) AS cache_read_tokens,
    sum(c.cache_write_tokens) AS cache_write_tokens,
    sum(ifNull(c.cost_total, toDecimal128(0, 12))) AS cost_total,
    countIf(c.cost_total IS NULL) AS unpriced_requests,
    countIf(c.shadow) AS shadow_calls,
    quantilesExactInclusiveIf(0.5, 0.95, 0.99)(c.duration_ms, {k}) AS latency,
    quantilesExactInclusiveIf(0.5, 0.95, 0.99)(assumeNotNull(c.ttft_ms), c.ttft_ms IS NOT NULL AND {k}) AS ttft,
    countIf(c.ttft_ms IS NOT NULL AND {k}) AS ttft_count,
    countIf(c.cache_hit AND {k}) / countIf({k}) AS cache_hit_rate
"""


@dataclass(frozen=True)
class TraceFilter:
    project: str
    start: datetime
    end: datetime
    model: str | None = None
    service: str | None = None
    user: str | None = None
    session: str | None = None
    status: str | None = None
    text: str | None = None
    provider: str | None = None
    environment: str | None = None
    tag: str | None = None
    shadow: str | None = None  # only: traces with a shadow call; exclude: traces without one
    signal: str | None = None  # traces with a span that carries this failure signal (`filters.SIGNALS`)


def metrics_summary(store: Store, project: str, start: datetime, end: datetime,
                    group_by: str | None, filters: Mapping[str, str] | None = None,
                    shadow: str = SHADOW_SPLIT) -> dict[str, Any]:
    """Per-group and overall request, error, token, cost, latency and cache figures of the calls
    that match every filter (`schemas.clickhouse.filters`: the same as the metric series); shadow
    calls as `shadow` says (`schemas.clickhouse.shadow_split`)."""
    filters = filters or {}
    params = {"project": project, "start": start, "end": end, **filter_params(filters)}
    conditions = [*filter_conditions(filters, "c"), shadow_condition(shadow, "c.shadow")]
    calls = calls_query(with_tags="tag" in filters, call_condition=" AND ".join(c for c in conditions if c),
                        with_signals=SIGNAL in filters)
    fields = _summary_fields(shadow)
    total = store.query_dicts(f"SELECT {fields} FROM ({calls}) AS c", params, "metrics_summary_total")
    groups: list[dict[str, Any]] = []
    if group_by:
        column = GROUP_KEYS[group_by]
        sql = (f"SELECT c.{column} AS key, {fields} FROM ({calls}) AS c "
               f"GROUP BY key ORDER BY cost_total DESC, requests DESC, key")
        groups = [_summary(row, {group_by: row["key"]}) for row in store.query_dicts(sql, params, "metrics_summary")]
    return {"groups": groups, "total": _summary(total[0], {})}


def _summary(row: dict[str, Any], key: dict[str, Any]) -> dict[str, Any]:
    has_requests = row["requests"] > 0
    return {
        "key": key,
        "requests": row["requests"],
        "shadow_calls": row["shadow_calls"],
        "errors": row["errors"],
        "input_tokens": row["input_tokens"],
        "output_tokens": row["output_tokens"],
        "cache_read_tokens": row["cache_read_tokens"],
        "cache_write_tokens": row["cache_write_tokens"],
        "cost": _cost(row["cost_total"] if row["calls"] else None, row["unpriced_requests"]),
        "latency_ms": _quantiles(row["latency"] if has_requests else None),
        "ttft_ms": _quantiles(row["ttft"] if row["ttft_count"] else None),
        "cache_hit_rate": float(row["cache_hit_rate"]) if has_requests else None,
    }


def _cost(total: Decimal | None, unpriced: int) -> dict[str, Any]:
    """JSON numbers are floats to most clients, so the exact sum travels beside it as a string."""
    exact = total if total is not None else Decimal(0)
    return {"total": float(exact), "total_exact": format(exact.normalize(), "f"), "unpriced_requests": unpriced}


def _quantiles(values: list[float] | None) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "p99": None}
    return {"p50": round(values[0], 3), "p95": round(values[1], 3), "p99": round(values[2], 3)}


_TRACE_CONDITIONS = {
    "model": "countIf(s.request_model = {model:String} OR s.response_model = {model:String}) > 0",
    "service": "countIf(s.service_name = {service:String}) > 0",
    "user": "countIf(s.user_id = {user:String}) > 0",
    "session": "countIf(s.session_id = {session:String}) > 0",
    "provider": "countIf(s.provider = {provider:String}) > 0",
    "environment": "countIf(s.environment = {environment:String}) > 0",
    "tag": "countIf(has(s.tags, {tag:String})) > 0",
    "signal": f"countIf({signal_condition('s', 'signal')}) > 0",
    # Messages can arrive as log records (genai_events) rather than on the span itself.
    "text": "(countIf(positionCaseInsensitiveUTF8(concat(s.input_messages, ' ', s.output_messages, ' ', s.name), "
            "{text:String}) > 0) > 0 OR trace_id IN (SELECT e.trace_id FROM {db}.genai_events AS e "
            "WHERE e.project_id = {project:String} AND positionCaseInsensitiveUTF8("
            "concat(e.input_messages, ' ', e.output_messages), {text:String}) > 0))",
}
_SHADOW_CONDITIONS = {"only": "countIf(s.shadow_of != '') > 0", "exclude": "countIf(s.shadow_of != '') = 0"}
_STATUS_CONDITIONS = {"error": "countIf(s.status_code = 'error') > 0", "ok": "countIf(s.status_code = 'error') = 0"}

_CALL_SORTS = ("cost", "tokens")  # known only after the calls are totalled
TRACE_SORTS = {
    "start_time": "start_time", "duration_ms": "duration_ms", "cost": "cost", "tokens": "tokens",
    "llm_calls": "llm_calls", "errors": "errors",
}


def list_traces(store: Store, flt: TraceFilter, *, limit: int, offset: int, sort: str = "start_time",
                descending: bool = True, count_long_windows: bool = True) -> dict[str, Any]:
    """One row per trace that has a span in the window and matches every filter.

    `count_long_windows=False`: a long window's newest-first page, unfiltered, is found in its
    newest hours (`schemas.clickhouse.trace_page`) and its `total` is None (not counted).
    """
    params: dict[str, Any] = {"project": flt.project, "start": flt.start, "end": flt.end,
                              "limit": limit, "offset": offset}
    having = []
    for name, condition in _TRACE_CONDITIONS.items():
        value = getattr(flt, name)
        if value:
            params[name] = value
            having.append(condition)
    if flt.status:
        having.append(_STATUS_CONDITIONS[flt.status])
    if flt.shadow in _SHADOW_CONDITIONS:
        having.append(_SHADOW_CONDITIONS[flt.shadow])
    direction, sort = "DESC" if descending else "ASC", TRACE_SORTS[sort]  # only known sorts reach the SQL
    if sort in _CALL_SORTS:
        sql = _trace_list_sql_by_calls(having, sort, direction)
        rows = store.query_dicts(sql, params, "list_traces")
        total = _total_count(store, sql, params, rows)
    else:
        page, total = _trace_page(store, flt, having, sort, direction, params, count_long_windows)
        # The page's spans lie between its first and last span start: read only that stretch.
        narrowed = {"trace_ids": [r["trace_id"] for r in page], "start": min((r["first_start"] for r in page),
                                                                               default=flt.start),
                    "end": max((r["last_start"] for r in page), default=flt.end) + timedelta(microseconds=1)}
        rows = store.query_dicts(_trace_facts_sql(sort, direction), {**params, **narrowed}, "list_traces") \
            if page else []
    return {"traces": [_trace_summary(r) for r in rows], "total": total, "limit": limit, "offset": offset}


def _trace_page(store: Store, flt: TraceFilter, having: list[str], sort: str, direction: str, params: dict[str, Any],
                count_long_windows: bool) -> tuple[list[dict[str, Any]], int | None]:
    """The page's trace ids (with their first and last span start) and the total (None: not counted)."""
    newest_first = sort == "start_time" and direction == "DESC" and not having
    if not count_long_windows and newest_first and flt.end - flt.start >= trace_page.MIN_WINDOW:
        newest = trace_page.newest_traces(store, flt.project, flt.start, flt.end, params["offset"] + params["limit"])
        if newest is not None:
            return newest[params["offset"]:], None
    sql = _trace_page_sql(having, sort, direction)
    page = store.query_dicts(sql, params, "list_traces_page")
    return page, _total_count(store, sql, params, page)


def _total_count(store: Store, sql: str, params: dict[str, Any], page: list[dict[str, Any]]) -> int:
    """The matching traces, read off the page (`count() OVER ()`); a page past the last trace has
    no row to read it from, so the first page is asked."""
    if page or not params["offset"]:
        return page[0]["total_count"] if page else 0
    first = store.query_dicts(sql, {**params, "offset": 0, "limit": 1}, "list_traces_total")
    return first[0]["total_count"] if first else 0


# The failure signals a trace's spans carry, by name.
_TRACE_SIGNALS = ("arrayFilter(x -> x != '', ["
                  + ", ".join(f"if(countIf(s.{column}) > 0, '{name}', '')" for name, column in SIGNALS.items()) + "])")
# Per trace, from its spans; no FINAL needed: a redelivered span adds a duplicate row, so spans
# and errors count distinct span ids and the rest are min, max or any that a duplicate cannot change.
_TRACE_FACTS = f"""min(s.start_time) AS start_time, max(s.end_time) AS end_time,
    dateDiff('microsecond', min(s.start_time), max(s.end_time)) / 1000 AS duration_ms,
    argMin(s.name, (s.parent_span_id != '', s.start_time)) AS name,
    argMin(s.service_name, (s.parent_span_id != '', s.start_time)) AS service_name,
    uniqExact(s.span_id) AS spans, {TRACE_CALLS} AS llm_calls,
    uniqExactIf(s.span_id, s.status_code = 'error') AS errors,
    groupUniqArrayIf(s.request_model, s.request_model != '') AS models,
    anyIf(s.user_id, s.user_id != '') AS user_id, anyIf(s.session_id, s.session_id != '') AS session_id,
    {_TRACE_SIGNALS} AS signals"""


# A trace's calls: tokens (a refused, NULL, count adds nothing), the cost of those with a price, and
# how many have none.
_CALL_TOTALS = """sum(ifNull(k.input_tokens, 0) + ifNull(k.output_tokens, 0)) AS tokens,
    sum(ifNull(k.cost_total, toDecimal128(0, 12))) AS cost, countIf(k.cost_total IS NULL) AS unpriced_calls,
    count() AS calls"""
# Unknown (NULL), never $0, when no call of the trace has a price; sorted last either way.
_TRACE_COST = ("if(ifNull(c.unpriced_calls, 0) > 0 AND c.unpriced_calls = c.calls, NULL, "
               "ifNull(c.cost, toDecimal128(0, 12))) AS cost")


# The sort keys a page can be cut by before any other fact is computed (each reads a column or
# two), so finding a page over a week of spans does not aggregate every trace's facts.
_PAGE_KEYS = {
    "start_time": "min(s.start_time)",
    "duration_ms": "dateDiff('microsecond', min(s.start_time), max(s.end_time)) / 1000",
    "llm_calls": TRACE_CALLS,
    "errors": "uniqExactIf(s.span_id, s.status_code = 'error')",
}


def _trace_page_sql(having: list[str], sort: str, direction: str) -> str:
    """The page's trace ids by their sort key alone: two columns per span of the window, not every fact."""
    return f"""
    SELECT s.trace_id AS trace_id, {_PAGE_KEYS[sort]} AS page_key, count() OVER () AS total_count,
        min(s.start_time) AS first_start, max(s.start_time) AS last_start
    FROM {{db}}.spans AS s
    WHERE s.project_id = {{project:String}} AND {time_range("s")}
    GROUP BY s.trace_id
    {"HAVING " + " AND ".join(having) if having else ""}
    ORDER BY page_key {direction}, trace_id
    LIMIT {{limit:UInt32}} OFFSET {{offset:UInt32}}
    """


def _trace_facts_sql(sort: str, direction: str) -> str:
    """Span-level facts and call totals of the page's traces only."""
    page = "s.trace_id IN {trace_ids:Array(String)}"
    return f"""
    SELECT t.*, ifNull(c.tokens, 0) AS tokens, {_TRACE_COST}, ifNull(c.unpriced_calls, 0) AS unpriced_calls
    FROM (
        SELECT s.trace_id AS trace_id, {_TRACE_FACTS}
        FROM {{db}}.spans AS s
        WHERE s.project_id = {{project:String}} AND {time_range("s")} AND {page}
        GROUP BY s.trace_id
    ) AS t
    LEFT JOIN (
        SELECT k.trace_id AS trace_id, {_CALL_TOTALS}
        FROM ({calls_query(page)}) AS k GROUP BY k.trace_id
    ) AS c ON c.trace_id = t.trace_id
    ORDER BY {sort} {direction}, trace_id
    SETTINGS join_use_nulls = 1
    """


def _trace_list_sql_by_calls(having: list[str], sort: str, direction: str) -> str:
    """For a sort by cost or tokens: every trace's calls are totalled before the page is cut."""
    return f"""
    SELECT t.*, c.tokens AS tokens, {_TRACE_COST}, c.unpriced_calls AS unpriced_calls,
        count() OVER () AS total_count
    FROM (
        SELECT s.trace_id AS trace_id,
            {_TRACE_FACTS}
        FROM {{db}}.spans AS s
        WHERE s.project_id = {{project:String}} AND {time_range("s")}
        GROUP BY s.trace_id
        {"HAVING " + " AND ".join(having) if having else ""}
    ) AS t
    LEFT JOIN (
        SELECT k.trace_id AS trace_id, {_CALL_TOTALS}
        FROM ({CALLS}) AS k GROUP BY k.trace_id
    ) AS c ON c.trace_id = t.trace_id
    ORDER BY {sort} {direction}, trace_id
    LIMIT {{limit:UInt32}} OFFSET {{offset:UInt32}}
    """


def _trace_summary(row: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in row.items() if k != "total_count"}
    out["start_time"] = iso_utc(row["start_time"])
    out["end_time"] = iso_utc(row["end_time"])
    cost = row["cost"]
    out["cost"] = None if cost is None else float(cost)
    out["cost_exact"] = None if cost is None else format(cost.normalize(), "f")
    out["models"] = sorted(row["models"])
    return out


def get_trace_spans(store: Store, project: str, trace_id: str) -> list[dict[str, Any]]:
    sql = ("SELECT * EXCEPT (ingested_at) FROM {db}.spans FINAL "
           "WHERE project_id = {project:String} AND trace_id = {trace_id:String} ORDER BY start_time, span_id")
    return store.query_dicts(sql, {"project": project, "trace_id": trace_id}, "get_trace")


def get_trace_events(store: Store, project: str, trace_id: str) -> list[dict[str, Any]]:
    sql = ("SELECT span_id, time, event_name, body, input_messages, output_messages FROM {db}.genai_events FINAL "
           "WHERE project_id = {project:String} AND trace_id = {trace_id:String} ORDER BY time, record_id")
    return store.query_dicts(sql, {"project": project, "trace_id": trace_id}, "get_trace_events")
