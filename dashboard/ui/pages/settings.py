"""Settings: projects (first version)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dash import Dash, html

from dashboard.ui import format as fmt
from dashboard.ui.pages.placeholder import _table

if TYPE_CHECKING:
    from dashboard.ui.app import PageQuery, UiContext


def layout(ctx: UiContext, query: PageQuery) -> Any:
    rows = [[p.name, fmt.pct(p.eval_sample_rate), p.retention_days, fmt.when(p.created_at)]
            for p in ctx.metadata.list_projects()]
    return html.Div([html.H1("Settings"),
                     _table(["Project", "Eval sample rate", "Retention (days)", "Created"], rows, "projects")])


def register(app: Dash, ctx: UiContext) -> None:
    """No callbacks yet."""
