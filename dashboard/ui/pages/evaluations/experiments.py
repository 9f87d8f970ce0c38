"""Experiments: every run of a dataset version, newest first, with its status, pass rate and
interval, cost and p95 latency; filtered by dataset through the URL (`?dataset=`).

The summary of each finished experiment is computed here from its results (evals.summary), the
same function the API and the CLI use, so the three agree. A running one shows its progress.
"""

from __future__ import annotations

from typing import Any

from dash import Dash, Input, Output, State, dcc, html

from dashboard.ui import format as fmt
from dashboard.ui.context import UiContext
from dashboard.ui.pages.evaluations import common, run_form
from dashboard.ui.tables import table
from dashboard.ui.urls import PageQuery, search_with
from evals.summary import summarize
from schemas.metadata.datasets import DatasetStore
from schemas.metadata.experiments import ExperimentStore

HEAD = ("Experiment", "Dataset", "Status", "Pass rate", "Cost", "p95 latency", "Created (UTC)")


def layout(ctx: UiContext, query: PageQuery) -> Any:
    dataset = query.raw.get("dataset") or None
    experiments = ExperimentStore(ctx.metadata).list_experiments(query.project, dataset)
    return html.Div([
        html.H1("Experiments"), common.subnav(query, common.EXPERIMENTS),
        html.Div([html.Span("Dataset", className="evals-label"), _dataset_picker(ctx, query, dataset)],
                 className="evals-toolbar"),
        experiment_table(ctx, query, experiments, "experiments", _no_experiments(dataset)),
        html.H2("Run an experiment"),
        run_form.form(ctx, query, dataset or ""),
        html.P(["Or run one with ", html.Code("llmpulse eval run --dataset NAME --model MODEL"),
                ", POST /api/v1/experiments, or from your app's own pipeline (llmpulse.evals)."],
               className="muted"),
    ], className="evals")


def register(app: Dash, ctx: UiContext) -> None:
    @app.callback(Output("url", "search", allow_duplicate=True), Input("experiments-dataset", "value"),
                  State("url", "search"), prevent_initial_call=True)
    def pick_dataset(dataset: str | None, search: str | None) -> str:
        return search_with(search, {"dataset": dataset or ""})

    run_form.register(app, ctx)


def experiment_table(ctx: UiContext, query: PageQuery, experiments: list[dict[str, Any]], table_id: str,
                     nothing: Any) -> Any:
    """The experiments as rows, each with its summary; also the list on a dataset's page."""
    if not experiments:
        return common.empty(nothing, table_id)
    store = ExperimentStore(ctx.metadata)
    rows = [_row(query, e, summarize(store.results(query.project, e["name"])) if common.finished(e) else None)
            for e in experiments]
    return table(HEAD, rows, table_id)


def _row(query: PageQuery, experiment: dict[str, Any], summary: dict[str, Any] | None) -> Any:
    name, dataset, version = experiment["name"], experiment["dataset"], experiment["dataset_version"]
    cost = summary["cost_total"] if summary else None
    return html.Tr([
        html.Td(dcc.Link(name, href=common.link(query, common.experiment_path(name)))),
        html.Td(dcc.Link(f"{dataset}@v{version}", href=common.link(query, common.dataset_path(dataset),
                                                                  version=str(version)))),
        html.Td(common.status_cell(experiment)),
        html.Td(common.pass_rate_text(summary)),
        html.Td(fmt.usd(cost) + (f" (+{summary['unpriced']} unpriced)" if summary and summary["unpriced"] else "")),
        html.Td(fmt.ms(summary["latency_p95_ms"]) if summary else fmt.MISSING),
        html.Td(fmt.when(experiment["created_at"], zone=False)),
    ], className="experiment-row")


def _dataset_picker(ctx: UiContext, query: PageQuery, dataset: str | None) -> Any:
    names = [d["name"] for d in DatasetStore(ctx.metadata).list_datasets(query.project)]
    options = sorted({*names, *([dataset] if dataset else [])})  # a deleted dataset's experiments stay listed
    return dcc.Dropdown(id="experiments-dataset", options=options, value=dataset, placeholder="all datasets",
                        clearable=True, className="evals-dropdown")


def _no_experiments(dataset: str | None) -> Any:
    where = f" on dataset {dataset}" if dataset else ""
    return [f"No experiments{where} yet. Run one with ",
            html.Code(f"llmpulse eval run --dataset {dataset or 'NAME'} --model MODEL --wait"),
            " or POST /api/v1/experiments."]
