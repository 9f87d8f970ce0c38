"""Reads for browsing by user and by conversation: a trace's call totals, a user's sessions and
feedback, a session's calls with their messages.

The spans table has no index on `user_id` or `session_id`; its sort key leads with the project and
the hour, so every read here is bounded by a window (the caller's `start`..`end`) and scans only
those hours. A session's calls are those of the traces that carry its id on any span (as the trace
list's `session` filter matches), so a call whose own span lacks the id still belongs to it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from schemas.clickhouse.queries import calls_query, time_range
from schemas.clickhouse.store import Store

ZERO = "toDecimal128(0, 12)"
_TOTALS = f"""count() AS calls, countIf(c.status_code = 'error') AS errors,
    sum(c.input_tokens) AS input_tokens, sum(c.output_tokens) AS output_tokens,
    sum(c.cache_read_tokens) AS cache_read_tokens, sum(ifNull(c.cost_total, {ZERO})) AS cost,
    countIf(c.cost_total IS NULL) AS unpriced_calls"""
MAX_SESSION_CALLS = 500


def trace_totals(store: Store, project: str, trace_id: str, first: datetime, last: datetime) -> dict[str, Any]:
    """A trace's LLM and embedding calls, twins merged as every total merges them (`calls_query`);
    `first`..`last` are its spans' start times."""
    sql = f"SELECT {_TOTALS} FROM ({calls_query('s.trace_id = {trace_id:String}')}) AS c"
    params = {"project": project, "trace_id": trace_id, "start": first, "end": last + timedelta(microseconds=1)}
    return call_totals(store.query_dicts(sql, params, "trace_totals")[0])


def call_totals(row: dict[str, Any]) -> dict[str, Any]:
    """Totals as JSON: the cost is unknown (None), never $0, when no call has a price; the exact sum
    travels beside the float, as in the trace list."""
    unknown = row["calls"] > 0 and row["unpriced_calls"] == row["calls"]
    cost: Decimal | None = None if unknown or row["calls"] == 0 else row["cost"]
    return {"calls": row["calls"], "errors": row["errors"], "input_tokens": row["input_tokens"],
            "output_tokens": row["output_tokens"], "cache_read_tokens": row["cache_read_tokens"],
            "cost": None if cost is None else float(cost),
            "cost_exact": None if cost is None else format(cost.normalize(), "f"),
            "unpriced_calls": row["unpriced_calls"]}


def user_sessions(store: Store, project: str, user: str, start: datetime, end: datetime,
                  limit: int = 100) -> list[dict[str, Any]]:
    """The user's sessions in the window with their calls, newest first (calls without a session apart)."""
    calls = calls_query(call_condition="c.user_id = {user:String}")
    sql = (f"SELECT c.session_id AS session_id, min(c.start_time) AS first_call, max(c.start_time) AS last_call, "
           f"uniqExact(c.trace_id) AS traces, {_TOTALS} FROM ({calls}) AS c "
           "GROUP BY session_id ORDER BY last_call DESC, session_id LIMIT {limit:UInt32}")
    rows = store.query_dicts(sql, {"project": project, "user": user, "start": start, "end": end, "limit": limit},
                             "user_sessions")
    return [{"session_id": r["session_id"], "first_call": r["first_call"], "last_call": r["last_call"],
             "traces": r["traces"], **call_totals(r)} for r in rows]


def user_feedback(store: Store, project: str, user: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Scores on the user's calls in the window, per scorer: how many, their mean, and their labels."""
    spans = (f"SELECT s.trace_id, s.span_id FROM {{db}}.spans AS s WHERE s.project_id = {{project:String}} "
             f"AND {time_range('s')} AND s.user_id = {{user:String}}")
    sql = ("SELECT e.scorer AS scorer, any(e.name) AS name, any(e.source) AS source, count() AS count, "
           "avg(e.score) AS mean, groupUniqArrayIf(e.label, e.label != '') AS labels "
           "FROM {db}.evaluations AS e FINAL WHERE e.project_id = {project:String} "
           "AND e.span_time >= {start:DateTime64(6, 'UTC')} AND e.span_time < {end:DateTime64(6, 'UTC')} "
           f"AND (e.trace_id, e.span_id) IN ({spans}) AND e.error = '' "
           "GROUP BY scorer ORDER BY count DESC, scorer")
    rows = store.query_dicts(sql, {"project": project, "user": user, "start": start, "end": end}, "user_feedback")
    return [{**r, "mean": None if r["mean"] is None or r["mean"] != r["mean"] else round(r["mean"], 4),
             "labels": sorted(r["labels"])} for r in rows]


def session_calls(store: Store, project: str, session: str, start: datetime, end: datetime,
                  limit: int = MAX_SESSION_CALLS) -> list[dict[str, Any]]:
    """The calls and root spans of the session's traces in the window, in order, with their messages
    (for the transcript: a root span, an app's own "answer the user" span, may hold the exchange)."""
    traces = (f"SELECT t.trace_id FROM {{db}}.spans AS t WHERE t.project_id = {{project:String}} "
              f"AND {time_range('t')} AND t.session_id = {{session:String}}")
    sql = ("SELECT trace_id, span_id, start_time, name, request_model, input_messages, output_messages, is_call, "
           "parent_span_id = '' AS is_root FROM {db}.spans FINAL WHERE project_id = {project:String} AND "
           f"{time_range()} AND (is_call OR parent_span_id = '') AND trace_id IN ({traces}) "
           "ORDER BY start_time, span_id LIMIT {limit:UInt32}")
    params = {"project": project, "session": session, "start": start, "end": end, "limit": limit}
    return store.query_dicts(sql, params, "session_calls")


def trace_message_events(store: Store, project: str, trace_ids: list[str]) -> list[dict[str, Any]]:
    """Messages that arrived as log records for these traces (genai_events is sorted by trace)."""
    if not trace_ids:
        return []
    sql = ("SELECT trace_id, span_id, input_messages, output_messages FROM {db}.genai_events FINAL "
           "WHERE project_id = {project:String} AND trace_id IN {trace_ids:Array(String)} ORDER BY time, record_id")
    return store.query_dicts(sql, {"project": project, "trace_ids": trace_ids}, "session_message_events")
