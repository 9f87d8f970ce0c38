"""Datasets: the project's golden sets, and one dataset's page: a version picked in the URL
(`?version=`), its items, the import that adds a version, and the experiments run on it.

A version is what an experiment ran on, so the page shows any version as it was, not only the
current one; an item taken from a span links to that span's trace.
"""

from __future__ import annotations

from typing import Any

from dash import Dash, Input, Output, State, dcc, html

from dashboard.ui import format as fmt
from dashboard.ui.context import UiContext
from dashboard.ui.forms import refused
from dashboard.ui.pages.evaluations import common, dataset_import, run_form
from dashboard.ui.pages.evaluations.experiments import experiment_table
from dashboard.ui.tables import table
from dashboard.ui.urls import PageQuery, search_with
from schemas.metadata.datasets import DatasetNotFound, DatasetStore
from schemas.metadata.experiments import ExperimentStore

ITEM_HEAD = ("#", "Input", "Expected", "Assertions", "Metadata", "Source span", "Added in")


def layout(ctx: UiContext, query: PageQuery) -> Any:
    datasets = DatasetStore(ctx.metadata).list_datasets(query.project)
    return html.Div([
        html.H1("Datasets"), common.subnav(query, common.DATASETS),
        _dataset_table(query, datasets) if datasets else _no_datasets(query, not refused(ctx)),
        html.H2("Import a dataset"),
        dataset_import.form(ctx, query.project, ""),
    ], className="evals")


def detail(ctx: UiContext, query: PageQuery, name: str) -> Any:
    store = DatasetStore(ctx.metadata)
    current = store.read(query.project, name)  # DatasetNotFound: the router's not-found page
    version = _version(query, current["version"])
    try:
        shown = current if version == current["version"] else store.read(query.project, name, version)
    except DatasetNotFound as exc:
        return _bad_version(query, name, str(exc))
    experiments = ExperimentStore(ctx.metadata).list_experiments(query.project, name)
    return html.Div([
        html.H1(f"Dataset {name}"), common.subnav(query, common.DATASETS),
        html.P(current["description"], className="evals-description") if current["description"] else None,
        html.Div([html.Span("Version", className="evals-label"), _version_picker(current["version"], version),
                  html.Span(f"{len(shown['items'])} items · current version {current['version']}",
                            className="muted", id="dataset-count")], className="evals-toolbar"),
        _item_table(query, shown["items"]),
        html.H2("Experiments on this dataset"),
        experiment_table(ctx, query, experiments, "dataset-experiments",
                         ["None yet: ", html.Code(f"llmpulse eval run --dataset {name} --model MODEL --wait")]),
        html.H2(f"Run an experiment on version {version}"),
        run_form.form(ctx, query, name, None if version == current["version"] else version),
        html.H2("Import items (adds a version)"),
        dataset_import.form(ctx, query.project, name),
    ], className="evals")


def register(app: Dash, ctx: UiContext) -> None:
    @app.callback(Output("url", "search", allow_duplicate=True), Input("dataset-version", "value"),
                  State("url", "search"), prevent_initial_call=True)
    def pick_version(version: int | None, search: str | None) -> str:
        return search_with(search, {"version": "" if version is None else str(version)})

    dataset_import.register(app, ctx)


def _version(query: PageQuery, current: int) -> int:
    text = query.raw.get("version", "")
    return int(text) if text.isdigit() else current


def _bad_version(query: PageQuery, name: str, reason: str) -> Any:
    return html.Div([html.H1(f"Dataset {name}"), html.P(reason.capitalize() + ".", className="error"),
                     dcc.Link("the current version", href=common.link(query, common.dataset_path(name)))])


def _version_picker(current: int, version: int) -> Any:
    options = [{"label": f"v{v}" + (" (current)" if v == current else ""), "value": v}
               for v in range(current, -1, -1)]
    return dcc.Dropdown(id="dataset-version", options=options, value=version, clearable=False,
                        className="evals-dropdown small")


def _dataset_table(query: PageQuery, datasets: list[dict[str, Any]]) -> Any:
    rows = [html.Tr([
        html.Td(dcc.Link(d["name"], href=common.link(query, common.dataset_path(d["name"])))),
        html.Td(d["description"] or fmt.MISSING, className="evals-text"), html.Td(fmt.full(d["items"])),
        html.Td(f"v{d['version']}"), html.Td(fmt.when(d["created_at"], zone=False)),
    ], className="dataset-row") for d in datasets]
    return table(("Dataset", "Description", "Items", "Current version", "Created (UTC)"), rows, "datasets")


def _no_datasets(query: PageQuery, admin: bool) -> Any:
    who = "make one by importing a JSONL or CSV file below" if admin else "an admin makes one by importing a file"
    return common.empty([
        html.P(f"No datasets yet. A dataset is a golden set of inputs with their expected answers; {who}, "
               "or from a shell:"),
        html.Pre(f"llmpulse datasets import NAME items.jsonl --project {query.project}", className="code"),
        html.P(["or through the API: ", html.Code("POST /api/v1/datasets {\"name\": \"NAME\"}"), " then ",
                html.Code("POST /api/v1/datasets/NAME/items [{\"input\": \"…\", \"expected\": \"…\"}]"), "."]),
    ], "datasets")


def _item_table(query: PageQuery, items: list[dict[str, Any]]) -> Any:
    if not items:
        return common.empty("No items in this version. Import a file below, or add items with "
                            "POST /api/v1/datasets/<name>/items or from a span in the trace view.", "dataset-items")
    return table(ITEM_HEAD, [_item_row(query, item) for item in items], "dataset-items")


def _item_row(query: PageQuery, item: dict[str, Any]) -> Any:
    source = item["source"]
    span = (dcc.Link(f"{source['span_id']}", href=common.link(query, f"/traces/{source['trace_id']}"),
                     title=f"trace {source['trace_id']}") if source else fmt.MISSING)
    return html.Tr([
        html.Td(item["id"]), html.Td(common.clipped(item["input"])), html.Td(common.clipped(item["expected"])),
        html.Td([html.Div(line) for line in common.assertion_lines(item["assertions"])] or fmt.MISSING,
                className="evals-assertions"),
        html.Td(common.clipped(common.compact_json(item["metadata"]), "evals-code"), className="evals-code"),
        html.Td(span), html.Td(f"v{item['version_added']}"),
    ], className="item-row")
