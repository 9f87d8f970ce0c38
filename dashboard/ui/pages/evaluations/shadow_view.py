"""The shadow report as a page: one section per (primary model, candidate model) with its figures
and its most divergent pairs (both answers side by side, each linking to its call in the trace
view), then the shadow calls whose primary call never arrived.

It draws the dict GET /api/v1/shadow answers, nothing more. Answers are Dash text children, which
React escapes: a model's answer is never markdown or HTML here.
"""

from __future__ import annotations

from typing import Any

from dash import dcc, html

from dashboard.ui import format as fmt
from dashboard.ui.pages.evaluations import common
from dashboard.ui.tables import table
from dashboard.ui.urls import PageQuery

SIDES = ("primary", "candidate")


def view(query: PageQuery, report: dict[str, Any]) -> Any:
    pairs, unpaired = report.get("pairs") or [], report.get("unpaired") or []
    if not pairs and not unpaired:
        return common.empty([
            html.P("No shadow calls in this range. To test a candidate model in shadow, send it the same input "
                   "as the app's call, in the same trace, and set llmpulse.shadow_of on its span to the "
                   "primary call's span id (16 hex characters); keep its answer from the user."),
        ], "shadow-empty")
    return html.Div([*(_pair(query, i, pair) for i, pair in enumerate(pairs)), _unpaired(query, unpaired)])


def _pair(query: PageQuery, index: int, pair: dict[str, Any]) -> Any:
    title = f"{pair['primary_model']} → {pair['candidate_model']} (candidate)"
    return html.Section([
        html.H2(title), _tiles(index, pair),
        html.H3("Most divergent pairs"), _divergent(query, index, pair.get("most_divergent") or []),
    ], className="shadow-pair", id=f"shadow-pair-{index}")


def _tiles(index: int, pair: dict[str, Any]) -> Any:
    return html.Div([
        common.tile("Pairs", fmt.count(pair.get("pairs")), f"shadow-pairs-{index}"),
        common.tile("Cost, candidate vs primary", _signed(pair.get("cost_delta"), fmt.usd),
                    f"shadow-cost-{index}", note="per pair, on average"),
        common.tile("Latency, candidate vs primary", _signed(pair.get("latency_delta_ms"), fmt.ms),
                    f"shadow-latency-{index}", note="per pair, on average"),
        common.tile("Agreement", fmt.pct(pair.get("agreement")), f"shadow-agreement-{index}",
                    note="similarity of the two answers"),
        common.tile("Groundedness", _groundedness(pair.get("groundedness")), f"shadow-grounded-{index}",
                    note="primary · candidate"),
        common.tile("Judge prefers", _preference(pair.get("judge_preference")), f"shadow-judge-{index}"),
    ], className="evals-tiles")


def _signed(value: Any, shown: Any) -> str:
    if not isinstance(value, int | float):
        return fmt.MISSING
    return ("+" if value > 0 else "-" if value < 0 else "") + shown(abs(value))


def _groundedness(value: Any) -> str:
    if isinstance(value, dict):
        return " · ".join(fmt.pct(value.get(side)) for side in SIDES)
    return fmt.pct(value) if isinstance(value, int | float) else fmt.MISSING


def _preference(value: Any) -> Any:
    """The judge's verdicts, when a judge is configured: a share per side, or counts, or its word."""
    if not value:
        return html.Span("no judge configured", className="muted")
    if isinstance(value, dict):
        parts = [f"{side} {fmt.pct(share) if isinstance(share, float) else share}" for side, share in value.items()
                 if share is not None]
        return " · ".join(parts) or fmt.MISSING
    return str(value)


def _divergent(query: PageQuery, index: int, rows: list[dict[str, Any]]) -> Any:
    if not rows:
        return common.empty("No pair to show.", f"shadow-divergent-{index}")
    head = ("Agreement", "Primary answer", "Candidate answer", "Calls")
    body = [html.Tr([
        html.Td(fmt.pct(row.get("agreement"))),
        html.Td(common.clipped(row.get("primary_answer"))), html.Td(common.clipped(row.get("candidate_answer"))),
        html.Td(html.Div([_call_link(query, row, "primary"), _call_link(query, row, "candidate")],
                         className="shadow-links")),
    ], className="shadow-divergent-row") for row in rows]
    return table(head, body, f"shadow-divergent-{index}")


def _call_link(query: PageQuery, row: dict[str, Any], side: str) -> Any:
    span = row.get(f"{side}_span_id")
    return html.Div(dcc.Link(f"{side} call", href=span_link(query, row["trace_id"], span)))


def span_link(query: PageQuery, trace_id: str, span_id: str | None) -> str:
    """The trace view with this span's panel opened and marked."""
    return common.link(query, f"/traces/{trace_id}", span=span_id or "")


def _unpaired(query: PageQuery, rows: list[dict[str, Any]]) -> Any:
    title = html.H2(f"Shadow calls without their primary call: {len(rows)}")
    if not rows:
        return html.Div([title, html.P("Every shadow call found its primary.", className="muted")])
    head = ("Time", "Candidate model", "Primary span id (never arrived)", "Call")
    body = [html.Tr([
        html.Td(fmt.when(row.get("start_time"))), html.Td(row.get("candidate_model") or row.get("model") or ""),
        html.Td(row.get("shadow_of") or fmt.MISSING, className="evals-code"),
        html.Td(dcc.Link("shadow call", href=span_link(query, row["trace_id"], row.get("span_id")))),
    ]) for row in rows]
    return html.Div([title, html.P("The app sent these, but not the call each names in llmpulse.shadow_of "
                                   "(lost, or not yet arrived): they are listed, never dropped.", className="muted"),
                     table(head, body, "shadow-unpaired")])
