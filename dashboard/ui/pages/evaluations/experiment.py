"""One experiment: its summary tiles (pass rate with its 95% interval, errors, cost, latency, mean
scores) and every item's result, failures first, with the item's input and expected answer
beside the answer, each score's reason, and a link to the span's trace.

A running experiment shows its progress and the results so far, and refreshes itself
(dcc.Interval) until it is done; its tiles wait for the end, since a summary is computed only
from a finished experiment (schemas.metadata.experiments).
"""

from __future__ import annotations

from typing import Any

from dash import Dash, Input, Output, State, dcc, html, no_update

from dashboard.ui import format as fmt
from dashboard.ui.context import UiContext
from dashboard.ui.downloads import csv_link, experiment_csv_href
from dashboard.ui.pages.evaluations import common
from dashboard.ui.tables import table
from dashboard.ui.urls import PageQuery, parse_query
from evals.summary import summarize
from schemas.metadata.datasets import DatasetNotFound, DatasetStore
from schemas.metadata.experiments import ExperimentNotFound, ExperimentStore
from schemas.metadata.store import MetadataError

REFRESH_MS = 1500
RESULT_HEAD = ("#", "Input", "Expected", "Output", "Passed", "Scores", "Cost", "Latency", "Trace")


def detail(ctx: UiContext, query: PageQuery, name: str) -> Any:
    experiment = ExperimentStore(ctx.metadata).get(query.project, name)  # not found: the router's page
    return html.Div([
        html.H1(f"Experiment {name}"), common.subnav(query, common.EXPERIMENTS),
        dcc.Store(id="experiment-name", data=name),
        dcc.Interval(id="experiment-refresh", interval=REFRESH_MS, disabled=common.finished(experiment)),
        html.Div(body(ctx, query, experiment), id="experiment-body"),
    ], className="evals")


def register(app: Dash, ctx: UiContext) -> None:
    @app.callback(Output("experiment-body", "children"), Output("experiment-refresh", "disabled"),
                  Input("experiment-refresh", "n_intervals"), State("experiment-name", "data"),
                  State("url", "search"), prevent_initial_call=True)
    def refresh(ticks: int | None, name: str | None, search: str | None) -> tuple[Any, bool]:
        """Re-read a running experiment; stop once it has finished."""
        query = parse_query(search)
        try:
            experiment = ExperimentStore(ctx.metadata).get(query.project, name or "")
        except (ExperimentNotFound, MetadataError):
            return no_update, True
        return body(ctx, query, experiment), common.finished(experiment)


def body(ctx: UiContext, query: PageQuery, experiment: dict[str, Any]) -> Any:
    results = ExperimentStore(ctx.metadata).results(query.project, experiment["name"])
    items = _dataset_items(ctx, query.project, experiment)
    return [
        _about(query, experiment),
        _status(experiment),
        _tiles(summarize(results)) if common.finished(experiment) else None,
        html.H2("Results, failures first" if common.finished(experiment) else "Results so far"),
        csv_link(experiment_csv_href(query.project, experiment["name"]), "experiment-csv", "every item's result"),
        _result_table(query, sorted(results, key=failures_first), items),
    ]


def failures_first(result: dict[str, Any]) -> tuple[int, int]:
    """Errors, then failed, then not yet scored, then passed; by item within each."""
    rank = 0 if result["error"] else 1 if result["passed"] is False else 2 if result["passed"] is None else 3
    return rank, result["item_id"]


def _dataset_items(ctx: UiContext, project: str, experiment: dict[str, Any]) -> dict[int, dict[str, Any]] | None:
    """The items of the version it ran on, by id; None when that dataset was deleted since."""
    try:
        read = DatasetStore(ctx.metadata).read(project, experiment["dataset"], experiment["dataset_version"])
    except DatasetNotFound:
        return None
    return {item["id"]: item for item in read["items"]}


def _about(query: PageQuery, experiment: dict[str, Any]) -> Any:
    dataset, version = experiment["dataset"], experiment["dataset_version"]
    target = experiment["target"] or {}
    parts: list[Any] = [
        "On ", dcc.Link(f"{dataset}@v{version}", href=common.link(query, common.dataset_path(dataset),
                                                                 version=str(version))),
        f" · run by {'llmpulse' if experiment['runner'] == 'service' else 'the app'}",
        f" · model {target['model']}" if target.get("model") else "",
        f" · started {fmt.when(experiment['created_at'])}",
        f" · finished {fmt.when(experiment['finished_at'])}" if experiment["finished_at"] else "",
        " · ", dcc.Link("compare with another run", href=common.link(query, common.COMPARE,
                                                                     candidate=experiment["name"])),
    ]
    return html.P(parts, className="muted", id="experiment-about")


def _status(experiment: dict[str, Any]) -> Any:
    if experiment["status"] == "failed":
        return html.Div([html.Strong("Failed: "), experiment["reason"] or "no reason recorded"],
                        className="evals-failed", id="experiment-status")
    if experiment["status"] == "done":
        return None  # the line above says when it finished; the tiles follow
    return html.Div(common.status_cell(experiment), id="experiment-status", className="evals-state")


def _tiles(summary: dict[str, Any]) -> Any:
    unpriced = f"{summary['unpriced']} unpriced, not counted" if summary["unpriced"] else ""
    tiles = [
        common.tile("Pass rate", fmt.pct(summary["pass_rate"]), "tile-pass-rate",
                    f"95% interval {common.interval(summary['ci_low'], summary['ci_high'])}"),
        common.tile("Items", f"{summary['passed']} of {summary['items']} passed", "tile-items"),
        common.tile("Errors", fmt.count(summary["errors"]), "tile-errors"),
        common.tile("Cost", fmt.usd(summary["cost_total"]), "tile-cost",
                    f"{fmt.usd(summary['cost_per_item'])} per item" + (f" · {unpriced}" if unpriced else "")),
        common.tile("p50 latency", fmt.ms(summary["latency_p50_ms"]), "tile-p50"),
        common.tile("p95 latency", fmt.ms(summary["latency_p95_ms"]), "tile-p95"),
    ]
    tiles += [common.tile(f"Mean {name}", f"{score['mean']:.2f}", f"tile-score-{name}", f"{score['n']} items")
              for name, score in summary["scores"].items()]
    return html.Div(tiles, className="evals-tiles", id="experiment-summary")


def _result_table(query: PageQuery, results: list[dict[str, Any]],
                  items: dict[int, dict[str, Any]] | None) -> Any:
    if not results:
        return common.empty("No results yet.", "experiment-results")
    note = None if items is not None else html.P("The dataset was deleted since: inputs and expected answers "
                                                 "are no longer available.", className="muted")
    return html.Div([note, table(RESULT_HEAD, [_result_row(query, r, (items or {}).get(r["item_id"]))
                                               for r in results], "experiment-results")])


def _result_row(query: PageQuery, result: dict[str, Any], item: dict[str, Any] | None) -> Any:
    trace = result["trace_id"]
    return html.Tr([
        html.Td(result["item_id"]),
        html.Td(common.clipped(item["input"]) if item else fmt.MISSING),
        html.Td(common.clipped(item["expected"]) if item else fmt.MISSING),
        html.Td(_answer(result)),
        _passed_cell(result),
        html.Td(_scores(result["scores"]), className="evals-scores"),
        html.Td(_cost(result)),
        html.Td(fmt.ms(result["latency_ms"])),
        html.Td(dcc.Link("trace", href=common.link(query, f"/traces/{trace}"), title=f"span {result['span_id']}")
                if trace else fmt.MISSING),
    ], className="result-row " + _row_class(result))


def _answer(result: dict[str, Any]) -> Any:
    if result["error"]:
        return html.Div([html.Strong("error: "), result["error"]], className="evals-text err")
    return common.clipped(result["output"])


def _cost(result: dict[str, Any]) -> str:
    """An item without a cost is unpriced (its model has no known price), unless it never answered."""
    if result["cost"] is not None:
        return fmt.usd(result["cost"])
    return fmt.MISSING if result["error"] else "unpriced"


def _passed_cell(result: dict[str, Any]) -> Any:
    if result["error"] or result["passed"] is False:
        return html.Td("error" if result["error"] else "failed", className="err")
    return html.Td("not scored", className="muted") if result["passed"] is None else html.Td("passed", className="ok")


def _row_class(result: dict[str, Any]) -> str:
    return "failed" if result["error"] or result["passed"] is False else "passed" if result["passed"] else ""


def _scores(scores: dict[str, Any]) -> Any:
    """A chip per scorer, its reason on hover and written out under the chips when it failed."""
    chips, reasons = [], []
    for name, score in scores.items():
        value, reason = score.get("value"), score.get("reason") or ""
        good = score.get("passed", value is not None and value >= 1.0)
        shown = fmt.MISSING if value is None else f"{value:.2f}"
        chips.append(html.Span(f"{name} {shown}", title=reason or None,
                               className="evals-chip " + ("good" if good else "bad")))
        if reason:
            reasons.append(html.Div(f"{name}: {reason}", className="evals-reason"))
    return [html.Div(chips, className="evals-chips"), *reasons] if chips else fmt.MISSING
