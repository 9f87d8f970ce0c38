"""A user's and a session's reports: what the API answers and the user and session pages show.

Both are read over a bounded window (`schemas.clickhouse.conversations` says why); the totals
reuse the summary and trace-list queries, so a user's calls and cost are the figures the
Overview's `user` filter gives, and a session's traces are the trace list's `session` filter.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from dashboard.message_merge import merge_carried
from dashboard.transcript import transcript
from schemas.clickhouse import queries
from schemas.clickhouse.conversations import session_calls, trace_message_events, user_feedback, user_sessions
from schemas.clickhouse.metrics import SeriesQuery, timeseries
from schemas.clickhouse.store import Store
from schemas.times import iso_utc

SERIES_METRICS = ("requests", "errors", "cost_total")
MAX_SESSION_TRACES = 200


def user_report(store: Store, project: str, user: str, start: datetime, end: datetime,
                bucket: str = "day") -> dict[str, Any]:
    """Calls, errors, tokens and spend of the user's calls; feedback on them; their sessions; a series."""
    summary = queries.metrics_summary(store, project, start, end, None, {"user": user})["total"]
    series = timeseries(store, SeriesQuery(project, SERIES_METRICS, start, end, bucket, filters={"user": user}), None)
    points = series["series"][0]["points"] if series["series"] else []
    return {"user_id": user, "project": project, "from": iso_utc(start), "to": iso_utc(end),
            "summary": summary, "feedback": user_feedback(store, project, user, start, end),
            "sessions": [{**s, "first_call": iso_utc(s["first_call"]), "last_call": iso_utc(s["last_call"])}
                         for s in user_sessions(store, project, user, start, end)],
            "series": {"bucket": bucket, "points": points}}


def session_report(store: Store, project: str, session: str, start: datetime, end: datetime) -> dict[str, Any]:
    """The session's traces oldest first, their totals, and the conversation as one transcript."""
    flt = queries.TraceFilter(project, start, end, session=session)
    page = queries.list_traces(store, flt, limit=MAX_SESSION_TRACES, offset=0, sort="start_time", descending=False)
    traces = page["traces"]
    users = sorted({t["user_id"] for t in traces if t["user_id"]})
    return {"session_id": session, "project": project, "from": iso_utc(start), "to": iso_utc(end),
            "users": users, "totals": _session_totals(traces), "traces": traces, "trace_count": page["total"],
            "transcript": [{**turn, "time": iso_utc(turn["time"])}
                           for turn in transcript(_calls_with_messages(store, project, session, start, end))]}


def _session_totals(traces: list[dict[str, Any]]) -> dict[str, Any]:
    priced = [t["cost"] for t in traces if t["cost"] is not None]
    return {"traces": len(traces), "calls": sum(t["llm_calls"] for t in traces),
            "tokens": sum(t["tokens"] for t in traces), "errors": sum(1 for t in traces if t["errors"]),
            "cost": sum(priced) if priced else None,
            "duration_ms": sum(t["duration_ms"] for t in traces)}


def _calls_with_messages(store: Store, project: str, session: str, start: datetime,
                         end: datetime) -> list[dict[str, Any]]:
    """The session's calls with their messages, those that arrived as log records merged in."""
    calls = session_calls(store, project, session, start, end)
    carried: dict[str, list[dict[str, Any]]] = {}
    for event in trace_message_events(store, project, sorted({c["trace_id"] for c in calls})):
        carried.setdefault(event["span_id"], []).append(event)
    out = []
    for call in calls:
        events = carried.get(call["span_id"], [])
        sides = {side: merge_carried(_loads_list(call[side]), [m for e in events for m in _loads_list(e[side])])
                 for side in ("input_messages", "output_messages")}
        out.append({**call, **sides})
    return out


def _loads_list(text: str) -> list[Any]:
    try:
        value = json.loads(text) if text else []
    except ValueError:
        return []
    return value if isinstance(value, list) else []
