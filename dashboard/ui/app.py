"""The Dash app on the UI port: one shell (header, filters, navigation) and a page per path.

Routing is explicit (a `dcc.Location` and one callback) rather than Dash's page registry, so
a page is a plain module with `layout(ctx, query)`; filters live in the URL's query string, so
every view is a shareable link.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dash import Dash, Input, Output, dcc, html
from flask import Flask

from dashboard.ui.pages import alerts, costs, overview, placeholder, quality, settings, traces
from dashboard.ui.urls import RANGES, PageQuery, parse_query
from schemas.alerting import AlertStore
from schemas.metadata import Metadata
from schemas.runs import StateStore
from schemas.store import Store

NAV = (("/", "Overview"), ("/traces", "Traces"), ("/costs", "Costs"), ("/quality", "Quality"),
       ("/alerts", "Alerts"), ("/settings", "Settings"))


@dataclass(frozen=True)
class UiContext:
    """What pages read from: the same store and metadata as the JSON API."""

    store: Store
    metadata: Metadata
    state: StateStore
    alerts: AlertStore | None = None
    login_required: bool = False
    otlp_port: int = 4318  # where the collector listens, for the "point your exporter here" lines


Page = Callable[[UiContext, PageQuery], Any]


def pages() -> dict[str, Page]:
    return {"/": overview.layout, "/traces": traces.layout, "/costs": costs.layout, "/quality": quality.layout,
            "/alerts": alerts.layout, "/settings": settings.layout}


def create_dash(server: Flask, ctx: UiContext) -> Dash:
    app = Dash(__name__, server=server, url_base_pathname="/", title="llmpulse", suppress_callback_exceptions=True,
               assets_folder=str(Path(__file__).parent / "assets"))
    # callback-nav: a callback that changes the URL re-routes without reloading the page.
    location = dcc.Location(id="url", refresh="callback-nav")
    # A long query shows a loading state instead of a stale page.
    page = dcc.Loading(html.Main(id="page", className="page"), type="dot", delay_show=300, color="#6366f1")
    app.layout = html.Div([location, _header(), page], className="shell")
    _register_router(app, ctx)
    for page in (overview, traces, costs, quality, alerts, settings):
        page.register(app, ctx)
    return app


def _header() -> html.Header:
    return html.Header([
        html.A("llmpulse", href="/", className="brand"),
        html.Nav(id="nav", className="nav"),
        html.Div(id="ranges", className="ranges"),
        html.Span("times in UTC", className="tz"),
    ], className="header")


def _register_router(app: Dash, ctx: UiContext) -> None:
    routes = pages()

    @app.callback(Output("page", "children"), Output("nav", "children"), Output("ranges", "children"),
                  Input("url", "pathname"), Input("url", "search"))
    def route(pathname: str | None, search: str | None) -> tuple[Any, Any, Any]:
        query = parse_query(search)
        path = pathname or "/"
        if path.startswith("/traces/") and len(path) > len("/traces/"):
            page = traces.detail(ctx, query, path.rsplit("/", 1)[1])
        else:
            page = routes.get(path, placeholder.not_found)(ctx, query)
        nav = [dcc.Link(label, href=query.link(href), className="active" if href == path else "")
               for href, label in NAV]
        ranges = [dcc.Link(f"last {key}", href=query.link(path, range=key), id=f"range-{key}",
                           className="active" if key == query.range else "") for key in RANGES]
        return page, nav, ranges
