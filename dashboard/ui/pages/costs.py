"""Costs: spend by model (first version)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dash import Dash, html

from dashboard.ui import format as fmt
from dashboard.ui.pages.placeholder import _table
from schemas import queries

if TYPE_CHECKING:
    from dashboard.ui.app import PageQuery, UiContext


def layout(ctx: UiContext, query: PageQuery) -> Any:
    summary = queries.metrics_summary(ctx.store, query.project, query.start, query.end, "model")
    rows = [[g["key"]["model"] or "(none)", fmt.count(g["requests"]), fmt.usd(g["cost"]["total"]),
             fmt.usd(g["cost"]["total"] / g["requests"] if g["requests"] else None), g["cost"]["unpriced_requests"]]
            for g in summary["groups"]]
    total = summary["total"]
    return html.Div([html.H1("Costs"), html.P(f"Total {fmt.usd(total['cost']['total'])} over "
                                              f"{fmt.count(total['requests'])} calls; "
                                              f"{total['cost']['unpriced_requests']} unpriced."),
                     _table(["Model", "Requests", "Cost", "Cost / request", "Unpriced"], rows, "cost-by-model")])


def register(app: Dash, ctx: UiContext) -> None:
    """No callbacks yet."""
