"""Overview: KPI tiles against the previous period, trend charts with drift annotations, a table by
model, firing alerts.

Tiles, charts and the table read the rollup plus the raw calls it has not reached, and raw calls
alone when calls came late into minutes it holds (`current_rollup`), so they agree with the API.
Every chart's x-axis is the selected range (`charts.time_axis`), whatever part of it holds calls.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dash import dcc, html

from dashboard.ui import charts
from dashboard.ui import format as fmt
from dashboard.ui.context import UiContext
from dashboard.ui.filters import filter_bar
from dashboard.ui.pages.overview_metrics import otel_metrics_section
from dashboard.ui.pages.overview_models import model_table
from dashboard.ui.urls import FILTERS, PageQuery
from schemas.clickhouse.metrics import SeriesQuery, has_calls, timeseries, window_values
from schemas.clickhouse.quality import drift_events, hallucination_counts
from schemas.clickhouse.rollup import current_rollup
from schemas.metadata.models import DEFAULT_PROJECT

# (metric, label, formatter, lower is better)
KPIS = (
    ("requests", "Requests", fmt.count, False),
    ("cost_total", "Cost", fmt.usd, True),
    ("cost_per_request", "Cost / request", fmt.usd, True),
    ("latency_p95_ms", "p95 latency", fmt.ms, True),
    ("error_rate", "Error rate", fmt.pct, True),
    ("cache_hit_rate", "App cache hits", fmt.pct, False),
)
CHARTS = (
    ("Cost (USD)", ("cost_total",)),
    ("Requests", ("requests", "errors")),
    ("Latency (ms)", ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms")),
    ("Time to first token (ms)", ("ttft_p50_ms", "ttft_p95_ms")),
    ("Tokens", ("input_tokens", "output_tokens", "cached_tokens")),
    ("Caching (%)", ("cache_hit_rate", "prompt_cache_share")),
    # Per-call failure signals (collector/signals.py); a parse failure is a share of the calls that asked for JSON.
    ("Failure signals (rate)", ("parse_failure_rate", "refusal_rate", "truncation_rate", "tool_error_rate")),
)


# Counts and sums: a bucket without calls is a zero on their charts (a gap on the others).
SUMS = frozenset({"cost_total", "requests", "errors", "input_tokens", "output_tokens", "cached_tokens"})
# A change against a previous period of fewer calls than this says "n/a": +814805% over 3 calls is noise.
MIN_PREVIOUS_CALLS = 20


def layout(ctx: UiContext, query: PageQuery) -> Any:
    rollup = current_rollup(ctx.store, ctx.state, query.project, query.start, query.end)
    now_q = SeriesQuery(query.project, tuple(k for k, *_ in KPIS), query.start, query.end, filters=query.filters)
    current = window_values(ctx.store, now_q, rollup)
    if not current["requests"] and not has_calls(ctx.store, query.project):
        return empty_state(ctx, query)
    head = [html.H1("Overview"), filter_bar(ctx, query, rollup, FILTERS), _firing_alerts(ctx, query)]
    if not current["requests"]:  # tiles of zeros and blank charts would only restate it
        note = html.Div([html.P(charts.NO_CALLS), html.P("Pick another range above, or widen this one.")],
                        className="empty empty-range", id="overview-empty")
        return html.Div([*head, note, otel_metrics_section(ctx, query)])
    before = _previous_values(ctx, query, now_q.metrics)
    comparable = (before["requests"] or 0) >= MIN_PREVIOUS_CALLS
    tiles = [_tile(m, label, f, better_low, current[m], before[m] if comparable else None)
             for m, label, f, better_low in KPIS]
    return html.Div([*head, html.Div([*tiles, _hallucination_tile(ctx, query)], className="tiles"),
                     html.Div(_charts(ctx, query, rollup), className="charts"),
                     model_table(ctx, query, rollup), otel_metrics_section(ctx, query)])


def _previous_values(ctx: UiContext, query: PageQuery, metrics: tuple[str, ...]) -> dict[str, Any]:
    """The tiles' metrics over the period of the same length just before the range."""
    start, end = query.start - (query.end - query.start), query.start
    rollup = current_rollup(ctx.store, ctx.state, query.project, start, end)
    return window_values(ctx.store, SeriesQuery(query.project, metrics, start, end, filters=query.filters), rollup)


def empty_state(ctx: UiContext, query: PageQuery) -> Any:
    # an app that exports metrics but no traces still has its trends, below the setup help
    return html.Div([_setup_help(ctx, query), otel_metrics_section(ctx, query)])


def _setup_help(ctx: UiContext, query: PageQuery) -> Any:
    return html.Div([
        html.H1("No LLM calls yet"),
        html.P(f"Project {query.project!r} has no calls in this time range. Point your app's OpenTelemetry "
               "exporter at llmpulse (any GenAI instrumentation, default settings):"),
        html.Pre(f"export OTEL_EXPORTER_OTLP_ENDPOINT={ctx.collector_endpoint()}", className="code",
                 id="endpoint-line"),
        # the demo fills the default project (another one takes its ingest key: `--key`)
        html.P(["or send demo traffic: ", html.Code(ctx.demo_command(), id="demo-line")])
        if query.project == DEFAULT_PROJECT else None,
    ], className="empty")


def _tile(metric: str, label: str, formatter: Any, lower_is_better: bool, value: Any, before: Any) -> Any:
    """`before` is None when the previous period holds too few calls to compare with."""
    change, tone = "n/a vs previous", "flat"
    if value is not None and before not in (None, 0):
        delta = (float(value) - float(before)) / abs(float(before))
        change = f"{delta:+.0%} vs previous"
        tone = "good" if (delta < 0) == lower_is_better and abs(delta) >= 0.005 else "bad" if abs(delta) >= 0.005 \
            else "flat"
    return html.Div([html.Div(label, className="label"), html.Div(formatter(value), className="value"),
                     html.Div(change, className=f"change {tone}")], className="tile", id=f"kpi-{metric}")


def _hallucination_tile(ctx: UiContext, query: PageQuery) -> Any:
    rows = hallucination_counts(ctx.store, query.project, query.start, query.end, filters=query.filters)
    sampled, flagged = sum(r["sampled"] for r in rows), sum(r["flagged"] for r in rows)
    value = fmt.pct(flagged / sampled) if sampled else fmt.MISSING
    return html.Div([html.Div("Hallucination rate", className="label"), html.Div(value, className="value"),
                     html.Div(f"{sampled} scored", className="change flat")], className="tile",
                    id="kpi-hallucination_rate")


def _charts(ctx: UiContext, query: PageQuery, rollup: Any) -> list[Any]:
    metrics = tuple(m for _, names in CHARTS for m in names)
    bucket = query.bucket
    series = timeseries(ctx.store, SeriesQuery(query.project, metrics, query.start, query.end, bucket,
                                               filters=query.filters), rollup)
    points = series["series"][0]["points"] if series["series"] else []
    events = [e for e in drift_events(ctx.store, query.project, query.start, query.end, query.filters.get("model"))
              if datetime.fromisoformat(e["changed_at"]) >= query.start]  # a line off the chart would widen it
    return [dcc.Graph(figure=_figure(title, names, points, events, query), id=f"chart-{i}",
                      config=charts.GRAPH_CONFIG) for i, (title, names) in enumerate(CHARTS)]


def _figure(title: str, names: tuple[str, ...], points: list[dict[str, Any]], events: list[dict[str, Any]],
            query: PageQuery) -> Any:
    grid = charts.bucket_grid(query.start, query.end, query.bucket)
    times = charts.bucket_times(grid, query.start)
    held = {datetime.fromisoformat(p["t"]) for p in points}
    marked = {"size": [5 if moment in held else 0 for moment in grid]}  # the filled zeros go unmarked
    traces = [{**charts.metric_line(n, times, charts.on_grid(points, grid, n, 0 if n in SUMS else None)),
               "mode": "lines+markers", "marker": marked} for n in names]
    yaxis = {**charts.metric_axis(names), "rangemode": "nonnegative"}  # no figure here is negative
    return charts.time_figure(traces, query.start, query.end, title={"text": title}, height=260, yaxis=yaxis,
                         shapes=[charts.vline(e["changed_at"]) for e in events],
                         annotations=[charts.label(e["changed_at"], f"{e['kind']}: {e['model']}",
                                                   xanchor=charts.anchor_in(e["changed_at"], query.start, query.end))
                                      for e in events])


def _firing_alerts(ctx: UiContext, query: PageQuery) -> Any:
    firing = ctx.alerts.list_incidents(query.project, "firing", 10) if ctx.alerts else []
    if not firing:
        return html.Div()
    items = [html.Div([html.Strong("Firing: "), f"{a['title']} ({a['severity']}) since "
                       f"{fmt.when(a['firing_since'] or a['started_at'])}"], className="alert-item") for a in firing]
    return html.Div([*items, dcc.Link("acknowledge or silence them on the Alerts page", href=query.link("/alerts"))],
                    className="alerts-banner", id="firing-alerts")
