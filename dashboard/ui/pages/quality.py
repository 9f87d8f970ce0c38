"""Quality: hallucination rate per model with its interval, drift events (first version)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dash import Dash, html

from dashboard.ui import format as fmt
from dashboard.ui.pages.placeholder import _table
from detectors.scoring.interval import rate_with_interval
from schemas.quality import drift_events, hallucination_counts

if TYPE_CHECKING:
    from dashboard.ui.app import PageQuery, UiContext


def layout(ctx: UiContext, query: PageQuery) -> Any:
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


def register(app: Dash, ctx: UiContext) -> None:
    """No callbacks yet."""
