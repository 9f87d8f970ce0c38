"""Alerts: incidents with their timeline, the rules that open them, the channels that deliver
them, budgets, and guards (circuit breakers). One module per section; each registers its own callbacks."""

from __future__ import annotations

from typing import Any

from dash import Dash, dcc, html

from dashboard.ui.context import UiContext
from dashboard.ui.pages.alerts import budgets, channels, guards, incidents, rules
from dashboard.ui.urls import PageQuery


def layout(ctx: UiContext, query: PageQuery) -> Any:
    if ctx.alerts is None:
        return html.Div([html.H1("Alerts"), html.P("Alerting is not configured in this process.")])
    return html.Div([
        html.H1("Alerts"), dcc.Store(id="alerts-project", data=query.project),
        incidents.section(ctx, query.project),
        rules.section(ctx, query.project),
        channels.section(ctx, query.project),
        budgets.section(ctx, query.project),
        guards.section(ctx, query.project),
    ], className="alerts")


def register(app: Dash, ctx: UiContext) -> None:
    for part in (incidents, rules, channels, budgets, guards):
        part.register(app, ctx)
