"""First, read-only versions of the costs, quality, alerts and settings pages (issue 4 grows them)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dash import html

from dashboard.ui import format as fmt
from detectors.scoring.interval import rate_with_interval
from schemas import queries
from schemas.quality import drift_events, hallucination_counts

if TYPE_CHECKING:
    from dashboard.ui.app import PageQuery, UiContext


def _table(head: list[str], rows: list[list[Any]], table_id: str) -> Any:
    body = [html.Tr([html.Td(str(c)) for c in row]) for row in rows] or [
        html.Tr(html.Td("Nothing in this time range.", colSpan=len(head)))]
    return html.Table([html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(body)], className="table",
                      id=table_id)


def costs(ctx: UiContext, query: PageQuery) -> Any:
    summary = queries.metrics_summary(ctx.store, query.project, query.start, query.end, "model")
    rows = [[g["key"]["model"] or "(none)", fmt.count(g["requests"]), fmt.usd(g["cost"]["total"]),
             fmt.usd(g["cost"]["total"] / g["requests"] if g["requests"] else None), g["cost"]["unpriced_requests"]]
            for g in summary["groups"]]
    total = summary["total"]
    return html.Div([html.H1("Costs"), html.P(f"Total {fmt.usd(total['cost']['total'])} over "
                                              f"{fmt.count(total['requests'])} calls; "
                                              f"{total['cost']['unpriced_requests']} unpriced."),
                     _table(["Model", "Requests", "Cost", "Cost / request", "Unpriced"], rows, "cost-by-model")])


def quality(ctx: UiContext, query: PageQuery) -> Any:
    groups = hallucination_counts(ctx.store, query.project, query.start, query.end, "model")
    rows = []
    for g in groups:
        rate = rate_with_interval(g["flagged"], g["sampled"])
        rows.append([g["key"], g["sampled"], g["flagged"], fmt.pct(rate.rate),
                     f"{fmt.pct(rate.ci_low)} to {fmt.pct(rate.ci_high)}"])
    events = drift_events(ctx.store, query.project, query.start, query.end)
    drift_rows = [[fmt.when(e["changed_at"]), e["kind"], e["model"], e["from"], e["to"]] for e in events]
    return html.Div([html.H1("Quality"),
                     _table(["Model", "Scored", "Flagged", "Hallucination rate", "95% interval"], rows, "halluc"),
                     html.H2("Drift"),
                     _table(["Changed at", "Kind", "Model", "From", "To"], drift_rows, "drift")])


def settings(ctx: UiContext, query: PageQuery) -> Any:
    rows = [[p.name, fmt.pct(p.eval_sample_rate), p.retention_days, fmt.when(p.created_at)]
            for p in ctx.metadata.list_projects()]
    return html.Div([html.H1("Settings"),
                     _table(["Project", "Eval sample rate", "Retention (days)", "Created"], rows, "projects")])


def not_found(ctx: UiContext, query: PageQuery) -> Any:
    return html.Div([html.H1("Page not found"), html.P("Use the navigation above.")])
