"""Figures as plain dicts in the dark theme, for the pages that draw many or large charts.

plotly.js draws a dict as is. Building the same figure as `plotly.graph_objects` validates every
property and copies the theme's template per figure: ~100 ms a chart, most of the Overview's
render time over a week of data. The template is made into a dict once, here.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import plotly.io as pio

from dashboard.ui.format import usd

DARK_TEMPLATE: dict[str, Any] = pio.templates["plotly_dark"].to_plotly_json()
TRANSPARENT = "rgba(0,0,0,0)"
ACCENT, WARN = "#6366f1", "#f59e0b"
# Every dcc.Graph's `config`: the toolbar only while the pointer is over the chart, no plotly logo.
GRAPH_CONFIG: dict[str, Any] = {"displayModeBar": "hover", "displaylogo": False}
# A legend in one row above the plot, under the title: clear of the axes and their date labels.
LEGEND: dict[str, Any] = {"orientation": "h", "x": 0, "xanchor": "left", "y": 1.0, "yanchor": "bottom",
                          "bgcolor": TRANSPARENT, "font": {"size": 11}}
TITLE: dict[str, Any] = {"x": 0.01, "xanchor": "left", "y": 0.98, "yanchor": "top", "font": {"size": 14}}
# Tick labels a little off their axes: the y axis's "0" and the x axis's first date meet at the corner.
X_LABELS: dict[str, Any] = {"ticklabelstandoff": 6}
Y_LABELS: dict[str, Any] = {"ticklabelstandoff": 6, "automargin": True}  # a wide "$1,250" widens the margin
# A money axis: "$0.00002", never plotly's SI "20µ" or an exponent (d3 "~r": significant digits, no exponent).
MONEY_AXIS: dict[str, Any] = {"tickprefix": "$", "tickformat": ",~r", "rangemode": "tozero"}
PERCENT_AXIS: dict[str, Any] = {"tickformat": ".0%", "rangemode": "tozero"}
MONEY_METRICS = frozenset({"cost_total", "cost_per_request", "cost_per_trace", "cost_per_user", "prompt_cache_savings",
                           "app_cache_savings", "cache_savings"})
# What a metric id (schemas.clickhouse.metric_formulas) reads as in a legend.
METRIC_LABELS = {
    "requests": "Requests", "errors": "Errors", "error_rate": "Error rate",
    "latency_p50_ms": "p50 latency", "latency_p95_ms": "p95 latency", "latency_p99_ms": "p99 latency",
    "ttft_p50_ms": "p50 time to first token", "ttft_p95_ms": "p95 time to first token",
    "ttft_p99_ms": "p99 time to first token",
    "input_tokens": "Input tokens", "output_tokens": "Output tokens", "cached_tokens": "Cached input tokens",
    "cache_write_tokens": "Cache-write tokens", "cost_total": "Cost", "unpriced_requests": "Unpriced calls",
    "cost_per_request": "Cost / request", "cost_per_trace": "Cost / trace", "cost_per_user": "Cost / user",
    "cache_hit_rate": "App cache hits", "prompt_cache_share": "Prompt-cache share of input tokens",
    "prompt_cache_savings": "Saved by prompt caching", "app_cache_savings": "Saved by app caches",
    "cache_savings": "Saved by caching", "parse_failure_rate": "Parse failures", "refusal_rate": "Refusals",
    "truncation_rate": "Truncated answers", "tool_error_rate": "Tool errors",
    "hallucination_rate": "Hallucination rate", "budget_used_pct": "Budget used (%)",
    "projected_spend": "Projected spend", "drift": "Drift",
}


def figure(traces: list[dict[str, Any]], **layout: Any) -> dict[str, Any]:
    """A figure on the page's background; `layout` keys are plotly layout properties (nested dicts)."""
    base = {"template": DARK_TEMPLATE, "paper_bgcolor": TRANSPARENT, "plot_bgcolor": TRANSPARENT,
            "margin": {"l": 40, "r": 10, "t": 40, "b": 30}}
    merged = {**base, **layout}
    for key, default in (("legend", LEGEND), ("title", TITLE), ("xaxis", X_LABELS), ("yaxis", Y_LABELS)):
        # a page's title text, legend or axis settings keep the rest of the defaults
        merged[key] = {**default, **merged.get(key, {})}
    if "title" in layout and len(traces) > 1 and "t" not in layout.get("margin", {}):
        merged["margin"] = {**merged["margin"], "t": 64}  # room for the title and the legend's row under it
    return {"data": traces, "layout": merged}


def metric_label(metric: str) -> str:
    """A metric id in words, for a legend; an id without a label reads with spaces for underscores."""
    return METRIC_LABELS.get(metric, metric.replace("_", " "))


def metric_line(metric: str, times: list[Any], values: list[Any]) -> dict[str, Any]:
    """One metric's line, named in words; an amount of money hovers as `format.usd` writes it."""
    line = {"type": "scatter", "mode": "lines", "name": metric_label(metric), "x": times, "y": values}
    return {**line, **money_hover(values, "%{x}")} if metric in MONEY_METRICS else line


def metric_axis(metrics: tuple[str, ...]) -> dict[str, Any]:
    """The y axis of a chart of `metrics`: percent for shares, dollars for money, plotly's own otherwise."""
    if all(m.endswith(("_rate", "_share")) for m in metrics):
        return PERCENT_AXIS
    return MONEY_AXIS if all(m in MONEY_METRICS for m in metrics) else {}


def money_hover(values: list[Any], prefix: str = "%{x}") -> dict[str, Any]:
    """Trace properties that show each point's amount as `format.usd` writes it (plotly's d3 formats
    would print "$0.0000" or an exponent for a fraction of a cent)."""
    return {"customdata": [usd(v) for v in values], "hovertemplate": prefix + ": %{customdata}<extra></extra>"}


def vline(x: Any, color: str = WARN) -> dict[str, Any]:
    """A dotted vertical line across the plot at `x` (a layout shape)."""
    return {"type": "line", "x0": x, "x1": x, "xref": "x", "y0": 0, "y1": 1, "yref": "paper",
            "line": {"dash": "dot", "color": color}}


def label(x: Any, text: str, color: str = WARN, xanchor: str = "center") -> dict[str, Any]:
    """A small label at the top of the plot at `x` (a layout annotation)."""
    return {"x": x, "y": 1, "xref": "x", "yref": "paper", "text": text, "showarrow": False, "xanchor": xanchor,
            "font": {"size": 10, "color": color}}


def anchor_in(x: datetime | str, start: datetime, end: datetime) -> str:
    """Which side of a label sits on its line, so a line near either edge keeps its label inside the
    plot (plotly clips what overhangs): text to the left of a line in the last fifth of the range."""
    moment = datetime.fromisoformat(x) if isinstance(x, str) else x
    share = (moment - start) / (end - start) if end > start else 0.5
    return "right" if share > 0.8 else "left" if share < 0.2 else "center"


# --- time charts: the axis is the selected range, whatever the data covers ------------------------

BUCKET_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}  # what the timeseries API buckets by
MAX_BUCKETS = 200  # more points than a chart's width in pixels per three is noise
NO_CALLS = "No calls in this range."


def bar_widths(bucket: str, count: int, share: float = 0.8) -> list[float]:
    """Bar widths in milliseconds, `share` of a bucket each, for bars on a date axis: without them
    plotly draws a lone bar one millisecond wide, an invisible hairline."""
    return [BUCKET_SECONDS[bucket] * 1000 * share] * count


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
