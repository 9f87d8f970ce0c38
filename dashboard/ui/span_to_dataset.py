""""Add to dataset" on an LLM span, wherever one is shown (the trace view, the Quality page's
flagged spans): a dataset picker and the expected answer, prefilled with the span's own answer
and editable, then one click.

One callback serves every page: each form's ids carry `<trace_id>-<span_id>`, and the answer
goes to one toast fixed on screen, so it is seen wherever the form was. Changing a dataset needs
the admin role (dashboard.api_annotations), checked in the callback since Dash callbacks reach
every signed-in user; viewers are not shown the form.
"""

from __future__ import annotations

from typing import Any

from dash import ALL, Dash, Input, Output, State, dcc, html
from dash import ctx as callback_ctx
from dash.exceptions import PreventUpdate

from dashboard.annotations import found, span_item
from dashboard.params import ApiError
from dashboard.ui.context import UiContext
from dashboard.ui.forms import error, ok, refused
from dashboard.ui.urls import parse_query
from schemas.metadata.datasets import DatasetStore

ADMIN_ONLY = "Adding to a dataset needs the admin role."


def dataset_options(ctx: UiContext, project: str) -> list[dict[str, str]]:
    return [{"label": d["name"], "value": d["name"]} for d in DatasetStore(ctx.metadata).list_datasets(project)]


def add_form(ctx: UiContext, project: str, trace_id: str, span_id: str, answer: str,
             options: list[dict[str, str]] | None = None) -> Any:
    """The form under a span; nothing for a viewer, a hint when the project has no dataset yet."""
    if refused(ctx):
        return None
    options = dataset_options(ctx, project) if options is None else options
    key = f"{trace_id}-{span_id}"
    if not options:
        return html.P("Add to dataset: this project has no dataset yet (POST /api/v1/datasets creates one).",
                      className="muted add-to-dataset")
    return html.Details([
        html.Summary("Add to dataset"),
        html.Div([
            dcc.Dropdown(id={"type": "span-add-dataset", "id": key}, options=options, value=options[0]["value"],
                         clearable=False, className="add-dataset-picker"),
            dcc.Textarea(id={"type": "span-add-expected", "id": key}, value=answer, className="add-expected",
                         placeholder="expected answer (empty: none)"),
            html.Button("Add to dataset", id={"type": "span-add", "id": key}, className="button"),
        ], className="add-to-dataset-form"),
    ], className="add-to-dataset")


def toast() -> Any:
    """Where the callback's answer shows: fixed on screen, since the form may be far down the page."""
    return html.Div(id="span-add-message", className="toast")


def register(app: Dash, ctx: UiContext) -> None:
    @app.callback(Output("span-add-message", "children"), Input({"type": "span-add", "id": ALL}, "n_clicks"),
                  State({"type": "span-add-dataset", "id": ALL}, "value"),
                  State({"type": "span-add-expected", "id": ALL}, "value"), State("url", "search"),
                  prevent_initial_call=True)
    def add(clicks: list[int | None], datasets: list[str | None], answers: list[str | None],
            search: str | None) -> Any:
        trigger = callback_ctx.triggered_id
        if not isinstance(trigger, dict) or not any(clicks):
            raise PreventUpdate
        if refused(ctx):
            return error(ADMIN_ONLY, "span-add-error")
        values = {_key(s["id"]): s.get("value") for part in callback_ctx.states_list[:2] for s in part}
        dataset = values.get(("span-add-dataset", trigger["id"]))
        expected = values.get(("span-add-expected", trigger["id"]))
        return add_span(ctx, parse_query(search).project, str(trigger["id"]), dataset, expected)


def _key(component_id: Any) -> tuple[str, str]:
    return (component_id.get("type", ""), str(component_id.get("id", ""))) if isinstance(component_id, dict) \
        else ("", "")


def add_span(ctx: UiContext, project: str, key: str, dataset: str | None, expected: str | None) -> Any:
    trace_id, _, span_id = key.partition("-")
    if not dataset:
        return error("Pick a dataset first.", "span-add-error")
    datasets = DatasetStore(ctx.metadata)
    try:
        item = span_item(ctx.store, project, trace_id, span_id, expected or "")
        version, (item_id,) = found(lambda: datasets.add_items(project, dataset, [item]))
    except ApiError as exc:
        return error(exc.message, "span-add-error")
    return ok(f"Span {span_id} added to {dataset} as item {item_id} (version {version}).", "span-add-ok")
