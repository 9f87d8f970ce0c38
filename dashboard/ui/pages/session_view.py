"""A session's page (/sessions/<id>): the conversation as one transcript, and its traces in order.

The figures are `dashboard.conversations.session_report`, what GET /api/v1/sessions/<id> answers.
Each turn links to the trace (and span) it came from. Turns are text children, never HTML or
markdown, as in the trace view.
"""

from __future__ import annotations

from typing import Any

from dash import dcc, html

from dashboard.conversations import session_report
from dashboard.ui import format as fmt
from dashboard.ui.context import UiContext
from dashboard.ui.pages.user_view import bounded, recent_traces, tile_row
from dashboard.ui.people_links import user_link
from dashboard.ui.span_fields import tokens, usd_total
from dashboard.ui.urls import PageQuery


def layout(ctx: UiContext, query: PageQuery, session_id: str) -> Any:
    start, end, note = bounded(query)
    report = session_report(ctx.store, query.project, session_id, start, end)
    totals = report["totals"]
    users = report["users"]
    tiles = (("traces", "Traces", f"{totals['traces']:,}"), ("calls", "LLM calls", f"{totals['calls']:,}"),
             ("tokens", "Tokens", tokens(totals["tokens"])), ("cost", "Cost", usd_total(totals["cost"])),
             ("errors", "Traces with errors", f"{totals['errors']:,}"),
             ("turns", "Turns", f"{len(report['transcript']):,}"))
    return html.Div([
        html.H1(["Session ", html.Span(session_id, id="session-id")]),
        html.P(note, className="muted") if note else None,
        html.Div([html.Span([html.Span("User", className="label"),
                             *(_joined([user_link(query, u, id=f"session-user-{i}") for i, u in enumerate(users)])
                               or [fmt.MISSING])], className="fact"),
                  html.Span([html.Span("Range", className="label"),
                             f"{fmt.when(start)} to {fmt.when(end)}"], className="fact")], className="facts"),
        tile_row(tiles, "session"),
        html.H2("Conversation"),
        _transcript(query, report["transcript"]),
        html.H2("Traces, oldest first"),
        recent_traces(query, report["traces"], "session-trace-table"),
    ], className="person-view")


def _joined(links: list[Any]) -> list[Any]:
    out: list[Any] = []
    for link in links:
        out += [", ", link] if out else [link]
    return out


def _transcript(query: PageQuery, turns: list[dict[str, Any]]) -> Any:
    if not turns:
        return html.P("No user or assistant messages were captured for this session (content capture may be off).",
                      className="muted", id="transcript")
    rows = []
    for number, turn in enumerate(turns, 1):
        source = dcc.Link(f"trace {turn['trace_id'][:8]}…",
                          href=query.link(f"/traces/{turn['trace_id']}", span=turn["span_id"]))
        head = html.Div([html.Span(f"{number}. {turn['role']}", className="role"),
                         html.Span([fmt.when(turn["time"]), " · ", source], className="muted")], className="turn-head")
        rows.append(html.Div([head, html.Div(turn["text"], className="content")],
                             className=f"turn {turn['role']}"))
    return html.Div(rows, className="chat transcript", id="transcript")
