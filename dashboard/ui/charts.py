"""Figures as plain dicts in the dark theme, for the pages that draw many or large charts.

plotly.js draws a dict as is. Building the same figure as `plotly.graph_objects` validates every
property and copies the theme's template per figure: ~100 ms a chart, most of the Overview's
render time over a week of data. The template is made into a dict once, here.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
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


# --- time charts: the axis is the selected range, whatever the data covers ------------------------

BUCKET_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}  # what the timeseries API buckets by
MAX_BUCKETS = 200  # more points than a chart's width in pixels per three is noise
NO_CALLS = "No calls in this range."


def bucket_for(start: datetime, end: datetime) -> str:
    """The finest bucket the timeseries API offers that keeps the range under MAX_BUCKETS points:
    minutes up to 3 h, hours up to 8 days (24h: 24 points, 7d: 168), then days (30d: 30)."""
    seconds = (end - start).total_seconds()
    return next((name for name, size in BUCKET_SECONDS.items() if seconds / size <= MAX_BUCKETS), "day")


def time_axis(start: datetime, end: datetime) -> dict[str, Any]:
    """An x-axis that spans exactly [start, end): a lone bucket is a point in its range, not an axis of
    a millisecond around it, and a week with one busy day still reads as a week. Times are naive UTC,
    as plotly.js reads them (and as the UI shows every time)."""
    return {"type": "date", "range": [_plotly_time(start), _plotly_time(end)], "autorange": False}


def time_line(name: str, times: list[str], values: list[Any], **style: Any) -> dict[str, Any]:
    """A line with markers: a bucket with no neighbour is still drawn."""
    return {"type": "scatter", "mode": "lines+markers", "name": name, "x": times, "y": values,
            "marker": {"size": 5}, **style}


def time_figure(traces: list[dict[str, Any]], start: datetime, end: datetime, **layout: Any) -> dict[str, Any]:
    """`figure` with the x-axis set to the range (`time_axis`), over any xaxis keys in `layout`."""
    return figure(traces, **{**layout, "xaxis": {**layout.get("xaxis", {}), **time_axis(start, end)}})


def bucket_times(times: list[str] | list[datetime], start: datetime) -> list[str]:
    """The series' bucket starts (ISO text or datetimes; naive is UTC) as plotly times; the first
    bucket, which starts before the range when the range does not start on a bucket, is drawn at
    the range's start."""
    moments = (datetime.fromisoformat(t) if isinstance(t, str) else t for t in times)
    return [_plotly_time(max(m if m.tzinfo else m.replace(tzinfo=UTC), start)) for m in moments]


def bucket_grid(start: datetime, end: datetime, bucket: str) -> list[datetime]:
    """Every bucket start of [start, end) (UTC, as the series' `toStartOfInterval`): the x values of
    a chart whose empty buckets are drawn too, as a zero or a gap in the line."""
    size = timedelta(seconds=BUCKET_SECONDS[bucket])
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    moment = epoch + size * ((start.astimezone(UTC) - epoch) // size)
    grid = []
    while moment < end:
        grid.append(moment)
        moment += size
    return grid


def on_grid(points: list[dict[str, Any]], grid: list[datetime], name: str, empty: Any) -> list[Any]:
    """`name`'s value per grid bucket from series points (`t` ISO text); `empty` where a bucket has no
    point: 0 for a count or a sum (nothing happened), None for a rate or a percentile (unknown)."""
    values = {datetime.fromisoformat(p["t"]).astimezone(UTC): p[name] for p in points}
    return [values.get(moment, empty) for moment in grid]


def _plotly_time(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="milliseconds")
