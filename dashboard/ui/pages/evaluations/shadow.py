"""Shadow pairs: a candidate model answering the app's inputs beside its primary model, never to a user
(`llmpulse.shadow_of` names the primary call's span). Per (primary, candidate) model pair over the
page's time range: how many pairs, what the candidate would change in cost and latency, how often
it says the same, how grounded each is, the judge's preference; then the pairs that differ most,
both answers side by side, and the shadow calls whose primary never arrived.

The report is the API's (GET /api/v1/shadow, `dashboard.api_shadow.read_report`), read the same
way: ClickHouse aggregates and a word-set agreement, no SciPy, so it runs in the UI process.
"""

from __future__ import annotations

from typing import Any

from dash import Dash, html

from dashboard.api_shadow import read_report
from dashboard.params import ApiError
from dashboard.ui.context import UiContext
from dashboard.ui.pages.evaluations import common, shadow_view
from dashboard.ui.urls import PageQuery
from schemas.clickhouse.filters import SIGNAL


def layout(ctx: UiContext, query: PageQuery) -> Any:
    return html.Div([
        html.H1("Shadow pairs"), common.subnav(query, common.SHADOW),
        html.P("Calls a candidate model answered in shadow beside the app's own call (their spans carry "
               "llmpulse.shadow_of), paired and compared over the time range above.",
               className="evals-description"),
        html.Div(_report(ctx, query), id="shadow-body"),
    ], className="evals")


def register(app: Dash, ctx: UiContext) -> None:
    """No controls of its own: the time range and project are the header's."""


def _report(ctx: UiContext, query: PageQuery) -> Any:
    try:
        return shadow_view.view(query, shadow_report(ctx, query))
    except ApiError as exc:
        return common.empty(exc.message[:1].upper() + exc.message[1:], "shadow-refusal")


def shadow_report(ctx: UiContext, query: PageQuery) -> dict[str, Any]:
    """The API's report for the page's project, range and filters."""
    filters = {name: value for name, value in query.filters.items() if name != SIGNAL}  # the pairs keep no signal
    return read_report(ctx.store, ctx.state, query.project, query.start, query.end, filters)
