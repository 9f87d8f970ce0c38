"""The Overview's table by model: requests, errors, latency, tokens and cost per model in one
grouped read of the same state rows as the tiles (rollup plus raw tail), each row linking to the
traces and the costs of that model, with the range and the other filters kept."""

from __future__ import annotations

from typing import Any

from dash import dcc, html

from dashboard.ui import format as fmt
from dashboard.ui.context import UiContext
from dashboard.ui.urls import PageQuery
from schemas.clickhouse.metrics import RollupSpan, SeriesQuery, grouped_values

MAX_MODELS = 50
# (metric, column head, formatter)
COLUMNS = (
    ("requests", "Requests", fmt.full),
    ("errors", "Errors", fmt.full),
    ("latency_p95_ms", "p95 latency", fmt.ms),
    ("ttft_p95_ms", "TTFT p95", fmt.ms),
    ("input_tokens", "Input tokens", fmt.tokens),
    ("output_tokens", "Output tokens", fmt.tokens),
    ("cost_total", "Cost", fmt.usd),
    ("cost_per_request", "Cost / request", fmt.usd),
)


def model_table(ctx: UiContext, query: PageQuery, rollup: RollupSpan | None) -> Any:
    """Busiest models first (by cost, then requests): what a reader compares first."""
    series = SeriesQuery(query.project, tuple(m for m, *_ in COLUMNS), query.start, query.end, group_by="model",
                         filters=query.filters)
    rows = grouped_values(ctx.store, series, rollup, order="cost_total DESC, requests DESC, key", limit=MAX_MODELS,
                          having="HAVING requests > 0", tag="overview_models")
    head = html.Tr([html.Th("Model"), *[html.Th(label, className="num") for _, label, _ in COLUMNS], html.Th("")])
    body = [_row(query, row) for row in rows]
    return html.Div([html.H2("By model"),
                     html.Table([html.Thead(head), html.Tbody(body)], className="table", id="overview-models")],
                    className="overview-models")


def _row(query: PageQuery, row: dict[str, Any]) -> Any:
    model = row["key"] or ""
    cells = [html.Td(formatter(row[metric]), className=f"num {metric}") for metric, _, formatter in COLUMNS]
    links = [dcc.Link("traces", href=query.link("/traces", model=model), className="model-traces"), " · ",
             dcc.Link("costs", href=query.link("/costs", model=model), className="model-costs")]
    return html.Tr([html.Td(model or fmt.MISSING, className="model"), *cells, html.Td(links, className="links")],
                   className="model-row")
