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
    total = report.get("unpaired_total", len(unpaired))
    return html.Div([*(_pair(query, i, pair) for i, pair in enumerate(pairs)), _unpaired(query, unpaired, total)])


def _pair(query: PageQuery, index: int, pair: dict[str, Any]) -> Any:
    title = f"{pair['primary_model']} → {pair['candidate_model']} (candidate)"
    return html.Section([
        html.H2(title), _tiles(index, pair),
        html.H3("Most divergent pairs"), _divergent(query, index, pair.get("most_divergent") or []),
    ], className="shadow-pair", id=f"shadow-pair-{index}")


def _tiles(index: int, pair: dict[str, Any]) -> Any:
    cost, latency = pair.get("cost_delta") or {}, pair.get("latency_delta_ms") or {}
    priced = cost.get("priced_pairs")
    return html.Div([
        common.tile("Pairs", fmt.count(pair.get("pairs")), f"shadow-pairs-{index}"),
        common.tile("Cost per pair, candidate vs primary", _signed(cost.get("mean"), fmt.usd),
                    f"shadow-cost-{index}", note=f"{_signed(cost.get('total'), fmt.usd)} over "
                                                 f"{fmt.count(priced)} priced pairs"),
        common.tile("Latency, candidate vs primary", _signed(latency.get("median"), fmt.ms),
                    f"shadow-latency-{index}", note=f"median; mean {_signed(latency.get('mean'), fmt.ms)}"),
        common.tile("Agreement", fmt.pct(pair.get("agreement")), f"shadow-agreement-{index}",
                    note=f"word overlap of the answers, {fmt.count(pair.get('agreement_sample'))} pairs read"),
        common.tile("Groundedness", _groundedness(pair.get("groundedness")), f"shadow-grounded-{index}",
                    note=_scored(pair.get("groundedness"))),
        common.tile("Preferred", _preference(pair.get("judge_preference")), f"shadow-judge-{index}",
                    note=_preference_note(pair.get("judge_preference"))),
    ], className="evals-tiles")


def _signed(value: Any, shown: Any) -> str:
    if not isinstance(value, int | float):
        return fmt.MISSING
    return ("+" if value > 0 else "-" if value < 0 else "") + shown(abs(value))


def _groundedness(value: Any) -> Any:
    if not _scored_any(value):
        return html.Span("not scored", className="muted")
    return " · ".join(fmt.pct(value.get(side)) for side in SIDES)


def _scored(value: Any) -> str:
    if not _scored_any(value):
        return "the hallucination detector scores sampled answers that have a context"
    return f"primary · candidate ({' · '.join(fmt.count(value.get(f'{side}_scored')) for side in SIDES)} scored)"


def _scored_any(value: Any) -> bool:
    return isinstance(value, dict) and any(value.get(f"{side}_scored") for side in SIDES)


def _preference(value: Any) -> Any:
    """How often the candidate was preferred; a note when no pair was judged."""
    if not value:
        return html.Span("no pair judged", className="muted")
    return f"candidate {fmt.pct(value.get('candidate_share'))} of {fmt.count(value.get('judged'))}"


def _preference_note(value: Any) -> str:
    """Whose verdicts count (a person's over the app's over the judge's) and how far the judge agrees
    with people where both judged a pair: how much the judge's share can be trusted."""
    if not value:
        return "the shadow judge decides sampled pairs when LLMPULSE_JUDGE_URL is set"
    sources = value.get("sources") or {}
    counts = " · ".join(f"{name} {fmt.count(sources.get(key))}" for key, name in
                        (("judge", "judge"), ("app", "app"), ("human", "people")) if sources.get(key))
    agreement = value.get("judge_agreement") or {}
    checked = (f"; the judge agreed on {fmt.count(agreement.get('agreed'))} of the "
               f"{fmt.count(agreement.get('pairs'))} pairs people or the app judged" if agreement.get("pairs") else "")
    return f"primary {fmt.count(value.get('primary'))} · tie {fmt.count(value.get('tie'))}; by {counts}{checked}"


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


def _unpaired(query: PageQuery, rows: list[dict[str, Any]], total: int) -> Any:
    title = html.H2(f"Shadow calls without their primary call: {total}")
    if not rows:
        return html.Div([title, html.P("Every shadow call found its primary.", className="muted")])
    head = ("Candidate model", "Primary span id (never arrived)", "Call")
    body = [html.Tr([
        html.Td(row.get("candidate_model") or ""), html.Td(row.get("shadow_of") or fmt.MISSING, className="evals-code"),
        html.Td(dcc.Link("shadow call", href=span_link(query, row["trace_id"], row.get("span_id")))),
    ]) for row in rows]
    shown = f" The first {len(rows)} are listed." if len(rows) < total else ""
    return html.Div([title, html.P("The app sent these, but not the call each names in llmpulse.shadow_of (lost, or "
                                   f"not arrived yet): they are listed, never dropped.{shown}", className="muted"),
                     table(head, body, "shadow-unpaired")])
