"""A user's page (/users/<id>): their calls, spend, errors and feedback, over time, and their sessions.

The figures are `dashboard.conversations.user_report`, what GET /api/v1/users/<id> answers, over
the page's time range (at most `MAX_WINDOW`: the spans have no index on the user, see
`schemas.clickhouse.conversations`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dash import dcc, html

from dashboard.api_conversations import MAX_WINDOW
from dashboard.conversations import user_report
from dashboard.ui import charts
from dashboard.ui import format as fmt
from dashboard.ui.context import UiContext
from dashboard.ui.people_links import session_link
from dashboard.ui.span_fields import tokens, usd_total
from dashboard.ui.urls import PageQuery
from dashboard.ui.waterfall import CONFIG
from schemas.clickhouse import queries

RECENT_TRACES = 20


def layout(ctx: UiContext, query: PageQuery, user_id: str) -> Any:
    start, end, note = bounded(query)
    report = user_report(ctx.store, query.project, user_id, start, end, query.bucket)
    summary = report["summary"]
    recent = queries.list_traces(ctx.store, queries.TraceFilter(query.project, start, end, user=user_id),
                                 limit=RECENT_TRACES, offset=0, count_long_windows=False)["traces"]
    feedback = sum(row["count"] for row in report["feedback"])
    tiles = (("calls", "LLM calls", f"{summary['requests']:,}"), ("errors", "Errors", f"{summary['errors']:,}"),
             ("spend", "Spend", usd_total(summary["cost"]["total"])),
             ("tokens-in", "Input tokens", tokens(summary["input_tokens"])),
             ("tokens-out", "Output tokens", tokens(summary["output_tokens"])),
             ("sessions", "Sessions", f"{sum(1 for s in report['sessions'] if s['session_id']):,}"),
             ("feedback", "Scores and feedback", f"{feedback:,}"))
    return html.Div([
        html.H1(["User ", html.Span(user_id, id="user-id")]),
        html.P(note, className="muted") if note else None,
        tile_row(tiles, "user"),
        _charts(report["series"]["points"], start, end, report["series"]["bucket"]),
        html.H2("Sessions"), _sessions(query, report["sessions"]),
        html.H2("Scores and feedback on their calls"), _feedback(report["feedback"]),
        html.H2("Latest traces"),
        recent_traces(query, recent, "user-trace-table"),
        dcc.Link("all their traces in the trace list →", href=query.link("/traces", user=user_id)),
    ], className="person-view")


def bounded(query: PageQuery) -> tuple[datetime, datetime, str]:
    """The page's range, cut to the newest `MAX_WINDOW` when longer (and said so)."""
    if query.end - query.start <= MAX_WINDOW:
        return query.start, query.end, ""
    return query.end - MAX_WINDOW, query.end, f"Showing the last {MAX_WINDOW.days} days of the range."


def tile_row(tiles: tuple[tuple[str, str, Any], ...], prefix: str) -> Any:
    return html.Div([html.Div([html.Div(label, className="label"), html.Div(value, className="value")],
                              className="tile", id=f"{prefix}-{key}") for key, label, value in tiles],
                    className="tiles")


def _charts(points: list[dict[str, Any]], start: datetime, end: datetime, bucket: str) -> Any:
    """Calls and spend over the page's whole range (charts.time_figure), like every other time chart."""
    if not points:
        return html.P("No calls in this time range.", className="muted")
    times = charts.bucket_times([p["t"] for p in points], start)
    costs = [p["cost_total"] for p in points]
    width = {"width": charts.bar_widths(bucket, len(points))}
    calls = {"type": "bar", "name": "calls", "x": times, "y": [p["requests"] for p in points],
             "marker": {"color": charts.ACCENT}, **width}
    errors = {"type": "bar", "name": "errors", "x": times, "y": [p["errors"] for p in points],
              "marker": {"color": "#ef4444"}, **width}
    spend = {"type": "bar", "name": "spend", "x": times, "y": costs, "marker": {"color": charts.WARN},
             **width, **charts.money_hover(costs)}
    layout = {"height": 260, "margin": {"l": 70, "r": 10, "t": 64, "b": 50}}
    return html.Div([
        dcc.Graph(figure=charts.time_figure([calls, errors], start, end, title={"text": "Calls and errors"},
                                            barmode="overlay", **layout), config=CONFIG, id="user-calls-chart"),
        dcc.Graph(figure=charts.time_figure([spend], start, end, title={"text": "Spend (USD)"}, showlegend=False,
                                            yaxis=charts.MONEY_AXIS, **layout),
                  config=CONFIG, id="user-spend-chart"),
    ], className="charts")


def _sessions(query: PageQuery, sessions: list[dict[str, Any]]) -> Any:
    head = ["Session", "First call (UTC)", "Last call (UTC)", "Traces", "LLM calls", "Errors", "Cost"]
    rows = [html.Tr([html.Td(session_link(query, s["session_id"], s["first_call"]) if s["session_id"]
                             else html.Span("(no session)", className="muted")),
                     html.Td(fmt.when(s["first_call"], zone=False)), html.Td(fmt.when(s["last_call"], zone=False)),
                     html.Td(f"{s['traces']:,}"), html.Td(f"{s['calls']:,}"), html.Td(f"{s['errors']:,}"),
                     html.Td(usd_total(s["cost"]))]) for s in sessions]
    return _table(head, rows, "user-session-table", "No sessions in this time range.")


def _feedback(rows: list[dict[str, Any]]) -> Any:
    head = ["Scorer", "Scores", "Mean", "Labels"]
    body = [html.Tr([html.Td(r["scorer"]), html.Td(f"{r['count']:,}"),
                     html.Td(fmt.MISSING if r["mean"] is None else f"{r['mean']:.2f}"),
                     html.Td(", ".join(r["labels"]) or fmt.MISSING)]) for r in rows]
    return _table(head, body, "user-feedback-table", "No scores or feedback on their calls in this time range.")


def recent_traces(query: PageQuery, traces: list[dict[str, Any]], table_id: str) -> Any:
    """Traces as rows: when (the link to the trace), name, duration, calls, tokens, cost, status."""
    head = ["Started (UTC)", "Name", "Duration", "LLM calls", "Tokens", "Cost", "Status"]
    rows = [html.Tr([html.Td(dcc.Link(fmt.when(t["start_time"], zone=False),
                                      href=query.link(f"/traces/{t['trace_id']}"))),
                     html.Td(t["name"]), html.Td(fmt.ms(t["duration_ms"])), html.Td(f"{t['llm_calls']:,}"),
                     html.Td(tokens(t["tokens"])), html.Td(usd_total(t["cost"])),
                     html.Td("error" if t["errors"] else "ok", className="err" if t["errors"] else "ok")],
                    className="trace-row") for t in traces]
    return _table(head, rows, table_id, "No traces in this time range.")


def _table(head: list[str], rows: list[Any], table_id: str, empty: str) -> Any:
    body = rows or [html.Tr(html.Td(empty, colSpan=len(head), className="muted"))]
    return html.Table([html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(body)], className="table",
                      id=table_id)

