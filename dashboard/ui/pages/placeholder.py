"""Shared bits of the simple pages: a plain table, and the page for unknown paths."""

from __future__ import annotations

from typing import Any

from dash import html

from dashboard.ui.context import UiContext
from dashboard.ui.tables import table
from dashboard.ui.urls import PageQuery


def _table(head: list[str], rows: list[list[Any]], table_id: str) -> Any:
    body = [html.Tr([html.Td(str(c)) for c in row]) for row in rows] or [
        html.Tr(html.Td("Nothing in this time range.", colSpan=len(head)))]
    return table(head, body, table_id)


def not_found(ctx: UiContext, query: PageQuery) -> Any:
    return html.Div([html.H1("Page not found"), html.P("Use the navigation above.")])


def admin_only(ctx: UiContext, query: PageQuery) -> Any:
    return html.Div([html.H1("Settings need an admin"),
                     html.P("This page needs the admin role. Your account may read every other page; an admin "
                            "manages users, keys, tokens and project settings.", className="muted",
                            id="settings-read-only")])
