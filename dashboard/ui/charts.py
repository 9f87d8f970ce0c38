"""Figures as plain dicts in the dark theme, for the pages that draw many or large charts.

plotly.js draws a dict as is. Building the same figure as `plotly.graph_objects` validates every
property and copies the theme's template per figure: ~100 ms a chart, most of the Overview's
render time over a week of data. The template is made into a dict once, here.
"""

from __future__ import annotations

from typing import Any

import plotly.io as pio

DARK_TEMPLATE: dict[str, Any] = pio.templates["plotly_dark"].to_plotly_json()
TRANSPARENT = "rgba(0,0,0,0)"
ACCENT, WARN = "#6366f1", "#f59e0b"


def figure(traces: list[dict[str, Any]], **layout: Any) -> dict[str, Any]:
    """A figure on the page's background; `layout` keys are plotly layout properties (nested dicts)."""
    base = {"template": DARK_TEMPLATE, "paper_bgcolor": TRANSPARENT, "plot_bgcolor": TRANSPARENT,
            "margin": {"l": 40, "r": 10, "t": 40, "b": 30}, "legend": {"orientation": "h"}}
    return {"data": traces, "layout": {**base, **layout}}


def vline(x: Any, color: str = WARN) -> dict[str, Any]:
    """A dotted vertical line across the plot at `x` (a layout shape)."""
    return {"type": "line", "x0": x, "x1": x, "xref": "x", "y0": 0, "y1": 1, "yref": "paper",
            "line": {"dash": "dot", "color": color}}


def label(x: Any, text: str, color: str = WARN) -> dict[str, Any]:
    """A small label at the top of the plot at `x` (a layout annotation)."""
    return {"x": x, "y": 1, "xref": "x", "yref": "paper", "text": text, "showarrow": False,
            "font": {"size": 10, "color": color}}
