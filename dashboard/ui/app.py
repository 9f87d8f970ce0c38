"""The Dash app on the UI port: one shell (header, filters, navigation) and a page per path.

Routing is explicit (a `dcc.Location` and one callback) rather than Dash's page registry, so
a page is a plain module with `layout(ctx, query)`; filters live in the URL's query string, so
every view is a shareable link.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from dash import Dash, Input, Output, State, dcc, html
from dash.exceptions import PreventUpdate
from flask import Flask, Response, request

from dashboard.api import DASH_PAGES_RULE
from dashboard.auth import ADMIN_PAGES
from dashboard.ui import filters, forms, span_to_dataset
from dashboard.ui.context import UiContext
from dashboard.ui.pages import (
    alerts,
    annotate,
    costs,
    evaluations,
    overview,
    placeholder,
    quality,
    session_view,
    settings,
    trace_view,
    traces,
    user_view,
)
from dashboard.ui.people_links import SESSIONS, USERS, id_from_path
from dashboard.ui.urls import CUSTOM, RANGES, PageQuery, parse_query, search_with

LOCAL_INPUT = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> reads and writes
NAV = (("/", "Overview"), ("/traces", "Traces"), ("/costs", "Costs"), ("/quality", "Quality"),
       ("/evaluations", "Evaluations"), ("/alerts", "Alerts"), ("/settings", "Settings"))


Page = Callable[[UiContext, PageQuery], Any]


def pages() -> dict[str, Page]:
    return {"/": overview.layout, "/traces": traces.layout, "/costs": costs.layout, "/quality": quality.layout,
            "/annotate": annotate.layout, "/alerts": alerts.layout, "/settings": settings.layout,
            **evaluations.VIEWS}


def is_page(path: str) -> bool:
    """Whether the router below has a page for `path`; any other path shows "Page not found"."""
    if path.startswith("/traces/"):
        return len(path) > len("/traces/") and "/" not in path[len("/traces/"):]
    if path.startswith((USERS, SESSIONS)):  # an id may hold a slash, which the server sees decoded
        return len(path.rstrip("/")) > len(USERS if path.startswith(USERS) else SESSIONS)
    if path == evaluations.ROOT or path.startswith(evaluations.ROOT + "/"):
        return evaluations.has_page(path)
    return path in pages()


def answer_unknown_pages_404(response: Response) -> Response:
    """Dash serves its page shell for any path, so a typo, a scanner's probe or a Prometheus pointed
    at the wrong port got 200. The shell still goes out (it shows "Page not found" and the
    navigation), with the status a path without a page deserves."""
    rule = request.url_rule
    shell = rule is not None and rule.rule == DASH_PAGES_RULE and response.status_code == 200
    if shell and not is_page(request.path):
        response.status_code = 404
    return response


def create_dash(server: Flask, ctx: UiContext) -> Dash:
    app = Dash(__name__, server=server, url_base_pathname="/", title="llmpulse", suppress_callback_exceptions=True,
               assets_folder=str(Path(__file__).parent / "assets"))
    # callback-nav: a callback that changes the URL re-routes without reloading the page.
    location = dcc.Location(id="url", refresh="callback-nav")
    # A long query shows a loading state instead of a stale page.
    page = dcc.Loading(html.Main(id="page", className="page"), type="dot", delay_show=300, color="#6366f1")
    app.layout = html.Div([location, _header(), page, span_to_dataset.toast()], className="shell")
    _register_router(app, ctx)
    filters.register(app)  # the filter bar of overview, traces and costs
    for page in (traces, costs, quality, evaluations, annotate, alerts, settings):
        page.register(app, ctx)
    span_to_dataset.register(app, ctx)  # "add to dataset" on the trace view and the Quality page
    server.after_request(answer_unknown_pages_404)
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
        page = _id_page(ctx, query, path)
        if page is None and (path == evaluations.ROOT or path.startswith(evaluations.ROOT + "/")):
            page = evaluations.route(ctx, query, path)
        elif page is None and path.startswith(ADMIN_PAGES) and forms.refused(ctx):
            page = placeholder.admin_only(ctx, query)  # the HTTP check sees only the callback's own path
        elif page is None:
            page = routes.get(path, placeholder.not_found)(ctx, query)
        nav = [dcc.Link(label, href=query.link(href), className="active" if _within(path, href) else "")
               for href, label in NAV if not (href.startswith(ADMIN_PAGES) and forms.refused(ctx))]
        return page, nav, _ranges(query, path)

    @app.callback(Output("url", "search", allow_duplicate=True), Input("range-apply", "n_clicks"),
                  State("range-from", "value"), State("range-to", "value"), State("url", "search"),
                  prevent_initial_call=True)
    def apply_custom_range(clicks: int | None, start: str | None, end: str | None, search: str | None) -> str:
        if not clicks or not (start or end):
            raise PreventUpdate
        return search_with(search, {"from": start or "", "to": end or ""}, resets=("range",))


def _id_page(ctx: UiContext, query: PageQuery, path: str) -> Any | None:
    """The page of one trace, user or session, when the path names one."""
    if path.startswith("/traces/") and len(path) > len("/traces/"):
        return trace_view.detail(ctx, query, path.rsplit("/", 1)[1])
    user, session = id_from_path(path, USERS), id_from_path(path, SESSIONS)
    if user is not None:
        return user_view.layout(ctx, query, user)
    if session is not None:
        return session_view.layout(ctx, query, session)
    return None


def _within(path: str, href: str) -> bool:
    """The nav entry of a page: its own path, or a section's path for every page under it."""
    in_section = path.startswith(evaluations.ROOT + "/") or path == evaluations.ANNOTATE
    return path == href or (href == evaluations.ROOT and in_section)


def _ranges(query: PageQuery, path: str) -> list[Any]:
    """Preset ranges as links, then a custom from/to (UTC, as every time on the page)."""
    no_custom = {"from": "", "to": ""}
    links = [dcc.Link(f"last {key}", href=query.link(path, range=key, **no_custom), id=f"range-{key}",
                      className="active" if key == query.range else "") for key in RANGES]
    custom = query.range == CUSTOM
    start, end = (query.start.strftime(LOCAL_INPUT), query.end.strftime(LOCAL_INPUT)) if custom else ("", "")
    return [*links, html.Span([
        dcc.Input(id="range-from", type="datetime-local", value=start),
        html.Span("to"),
        dcc.Input(id="range-to", type="datetime-local", value=end),
        html.Button("apply", id="range-apply", className="apply"),
    ], className="custom-range" + (" active" if custom else "")),
        html.Span(query.notice, className="error", id="range-notice") if query.notice else ""]
