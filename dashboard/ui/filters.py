"""The filter bar the Overview, Costs and Traces pages share; each control writes one URL parameter.

Dimensions the rollup keeps (model, service, environment) are dropdowns offering the values
seen in the range, the busiest first. Users, sessions and tags are typed: listing them would
read every raw call of the range. Status and failure signal are fixed choices. One callback per
control, so a page shows only the controls its queries honour and every callback still has all
its inputs on the page.
"""

from __future__ import annotations

from typing import Any

from dash import Dash, Input, Output, State, dcc, html

from dashboard.ui.context import UiContext
from dashboard.ui.urls import PageQuery, search_with
from schemas.clickhouse.filters import SIGNALS
from schemas.clickhouse.metrics import RollupSpan, SeriesQuery, dimension_values

LISTED = ("model", "service", "environment")
TYPED = {"user": "user id", "session": "session id", "tag": "tag"}
CHOICES = {"status": ("ok", "error"), "signal": tuple(SIGNALS)}  # a failure signal: `schemas.clickhouse.filters`
MAX_LISTED = 200
# What a dropdown says when nothing is chosen: "all models", "all statuses" (not a blind "s").
PLURALS = {"model": "models", "service": "services", "environment": "environments", "status": "statuses",
           "signal": "failure signals"}


def filter_bar(ctx: UiContext, query: PageQuery, rollup: RollupSpan | None, names: tuple[str, ...]) -> Any:
    listed = tuple(name for name in names if name in LISTED)
    seen = dimension_values(ctx.store, SeriesQuery(query.project, ("requests",), query.start, query.end), rollup,
                            listed, MAX_LISTED) if listed else {}
    return html.Div([_control(query, name, seen.get(name, [])) for name in names], className="filters")


def register(app: Dash) -> None:
    for name in (*LISTED, *TYPED, *CHOICES):
        _register_control(app, name)


def _register_control(app: Dash, name: str) -> None:
    @app.callback(Output("url", "search", allow_duplicate=True), Input(f"filter-{name}", "value"),
                  State("url", "search"), prevent_initial_call=True)
    def set_filter(value: Any, search: str | None) -> str:
        return search_with(search, {name: str(value or "").strip()}, resets=("page",))


def _control(query: PageQuery, name: str, seen: list[str]) -> Any:
    current = query.raw.get(name) or None
    if name in TYPED:
        return dcc.Input(id=f"filter-{name}", type="text", value=current or "", debounce=True,
                         placeholder=TYPED[name], className="filter-text")
    options = list(CHOICES[name]) if name in CHOICES else seen
    return dcc.Dropdown(id=f"filter-{name}", options=options, value=current,
                        placeholder=f"all {PLURALS.get(name, name + 's')}", clearable=True, className="filter")
