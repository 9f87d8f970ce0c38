"""The Overview's "From OTLP metrics" section: token, request, latency and TTFT trends from the app's
own GenAI metrics (schemas.clickhouse.otel_metrics), shown only when the project sent metric points
in the range. An app that samples its traces still exports its metrics whole, so these stay complete
where the span-derived charts above them count only the sampled calls.
"""

from __future__ import annotations

from typing import Any

from dash import dcc, html

from dashboard.ui import charts
from dashboard.ui.context import UiContext
from dashboard.ui.urls import PageQuery
from schemas.clickhouse.otel_metrics import FILTER_COLUMNS, MetricsQuery, otel_metric_series, received_metrics

NOTE = ("These come from the app's OTLP metrics (gen_ai.client.token.usage, gen_ai.client.operation.duration, "
        "time to first token), which stay complete when traces are sampled.")


def otel_metrics_section(ctx: UiContext, query: PageQuery) -> Any:
    """The section, or an empty Div when the project sent no metric points in the range."""
    names = received_metrics(ctx.store, query.project, query.start, query.end)
    if not names:
        return html.Div(id="otel-metrics")
    filters = {k: v for k, v in query.filters.items() if k in FILTER_COLUMNS}
    result = otel_metric_series(ctx.store, MetricsQuery(query.project, query.start, query.end, query.bucket,
                                                        filters=filters))
    points = result["series"][0]["points"] if result["series"] else []
    return html.Div([
        html.H2("From OTLP metrics"),
        html.P(NOTE, className="muted", id="otel-metrics-note"),
        _unfiltered_note(query),
        *_charts(points, (query.start, query.end)),
        html.P("Metrics received: " + ", ".join(sorted({n["name"] for n in names})), className="muted",
               id="otel-metrics-names"),
    ], id="otel-metrics", className="otel-metrics")


def _unfiltered_note(query: PageQuery) -> Any:
    ignored = sorted(k for k in query.filters if k not in FILTER_COLUMNS)
    if not ignored:
        return html.Div()
    return html.P(f"Metric points carry no {', '.join(ignored)}: these charts are not filtered by "
                  f"{'it' if len(ignored) == 1 else 'them'}.", className="muted")


def _charts(points: list[dict[str, Any]], window: tuple[Any, Any]) -> list[Any]:
    """The charts that have data; one line names the figures these metrics do not carry."""
    figures = [(title, lines) for title, lines in _figures(points) if _has_data(lines)]
    missing = [title for title, lines in _figures(points) if not _has_data(lines)]
    times = [p["time"] for p in points]
    graphs = [dcc.Graph(figure=_figure(title, times, lines, window), id=f"otel-chart-{i}",
                        config=charts.GRAPH_CONFIG) for i, (title, lines) in enumerate(figures)]
    note = [html.P("Not in these metrics: " + ", ".join(missing), className="muted", id="otel-metrics-missing")]
    return [html.Div(graphs, className="charts"), *(note if missing else [])]


def _figures(points: list[dict[str, Any]]) -> list[tuple[str, list[tuple[str, list[Any]]]]]:
    token_types = sorted({kind for p in points for kind in p["tokens"]})
    return [
        ("Tokens by type", [(kind, [p["tokens"].get(kind, 0) for p in points]) for kind in token_types]),
        ("Requests", [("requests", [p["requests"] for p in points]), ("errors", [p["errors"] for p in points])]),
        ("Duration (ms)", [(q, [p["duration_ms"][q] for p in points]) for q in ("p50", "p95")]),
        ("Time to first token p95 (ms)", [("p95", [p["ttft_ms"]["p95"] for p in points])]),
    ]


def _has_data(lines: list[tuple[str, list[Any]]]) -> bool:
    return any(value for _, values in lines for value in values)


def _figure(title: str, times: list[str], lines: list[tuple[str, list[Any]]], window: tuple[Any, Any]) -> Any:
    traces = [{"type": "scatter", "mode": "lines+markers", "name": name, "x": times, "y": values}
              for name, values in lines]
    return charts.time_figure(traces, window[0], window[1], title={"text": f"{title}, from metrics"}, height=260)
