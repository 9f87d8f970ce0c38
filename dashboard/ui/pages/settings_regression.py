"""Settings, the project's regression set: the dataset llmpulse runs when the drift detector finds a
model change, a target per requested model, the gate's minimum pass rate and the channels it
alerts; below it, the runs the regression job started, with their gate verdicts.

The form builds the body of `PUT /api/v1/projects/<name>` and hands it to the API's own check
(`dashboard.api_quality.checked_regression`: `evals.regression_settings.parse_settings`, then the
dataset and the channels must exist), so it refuses what the API refuses, in the API's words. A
target is a row of pattern-matching controls (added and removed in the page, kept only on save).
Saving checks the admin role in its callback, as every change on this page does; a viewer who
reaches the page sees the set read-only.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from dash import ALL, Dash, Input, Output, State, dcc, html, no_update
from dash import ctx as callback_ctx
from dash.exceptions import PreventUpdate

from dashboard.api_quality import NO_SERVICE_LIMITS, checked_regression
from dashboard.params import ApiError
from dashboard.ui.context import UiContext
from dashboard.ui.forms import clicked, clicked_id, error, field, number_in, ok, refused
from dashboard.ui.pages import settings_regression_view as view
from dashboard.ui.pages.evaluations import common
from dashboard.ui.pages.evaluations.run_form import request_body as target_body
from dashboard.ui.urls import PageQuery
from evals.experiment_request import Limits
from schemas.metadata.datasets import DatasetStore
from schemas.metadata.regression import RegressionSet, RegressionStore
from schemas.metadata.store import MetadataError

ADMIN_ONLY = "Changing the regression set needs the admin role."
EVERY, CHOSEN = "every", "chosen"  # whom a failing gate alerts: every channel of the project, or those chosen
ROWS = State({"type": view.FIELD, "field": ALL, "id": ALL}, "value")
ABOUT = ("When the drift detector finds a new model version behind a requested model that has a target here, "
         "llmpulse runs this dataset against it, gates the run against the last good one, and alerts when the "
         "gate fails. The same settings are PUT /api/v1/projects/<name> and llmpulse projects set.")


def section(ctx: UiContext, query: PageQuery) -> Any:
    if ctx.metadata.get_project(query.project) is None:
        return html.Div(id="regression")
    found = RegressionStore(ctx.metadata).get_set(query.project)
    body = (html.Div([view.summary(query, found, _channel_names(ctx, query.project)),
                      html.P(ADMIN_ONLY, className="muted")]) if refused(ctx)
            else html.Div(form(ctx, query.project, found), id="regression-form"))
    return html.Div([
        html.H2(["Regression set of ", html.Code(query.project)]), html.P(ABOUT, className="muted regression-about"),
        body, html.Div(id="regression-message", className="message"),
        html.H3("Recent regression runs"),
        html.Div(view.runs(ctx, query), id="regression-runs", className="evals"),  # the experiment list's styles
    ], className="settings-regression", id="regression")


def register(app: Dash, ctx: UiContext) -> None:
    @app.callback(Output("regression-targets", "children"), Input("regression-target-add", "n_clicks"),
                  Input({"type": view.REMOVE, "id": ALL}, "n_clicks"), ROWS, prevent_initial_call=True)
    def edit_targets(add: int | None, removes: list[int | None], values: list[Any]) -> Any:
        """Add a blank row or drop one; the others keep what was typed (nothing is stored here)."""
        if not clicked():
            raise PreventUpdate  # a re-drawn row's remove button, not a click
        rows, removed = typed_rows(callback_ctx.states_list[0]), clicked_id(view.REMOVE)
        kept = [row for index, row in rows.items() if index != removed] + ([] if removed is not None else [{}])
        return view.target_rows(kept, _default_endpoint(ctx))

    @app.callback(Output("regression-channels", "disabled"), Input("regression-notify", "value"),
                  prevent_initial_call=True)
    def choose_channels(notify: str | None) -> bool:
        return notify != CHOSEN

    @app.callback(Output("regression-message", "children"), Output("regression-form", "children"),
                  Input("regression-save", "n_clicks"), Input("regression-remove", "n_clicks"),
                  State("settings-project", "data"), State("regression-dataset", "value"),
                  State("regression-min-pass-rate", "value"), State("regression-notify", "value"),
                  State("regression-channels", "value"), ROWS, prevent_initial_call=True)
    def change_set(save: int | None, remove: int | None, project: str, dataset: Any, rate: Any, notify: Any,
                   channels: Any, values: list[Any]) -> tuple[Any, Any]:
        if not clicked():
            raise PreventUpdate
        if refused(ctx):  # nothing of the form: the page of a viewer shows none
            return _error(ADMIN_ONLY), no_update
        if callback_ctx.triggered_id == "regression-remove":
            return _save(ctx, project, {"regression_dataset": None})
        try:
            body = request_body(dataset, rate, notify, channels, typed_rows(callback_ctx.states_list[-1]))
        except ValueError as exc:
            return _error(f"Not saved: {exc}"), no_update
        return _save(ctx, project, body)


def form(ctx: UiContext, project: str, found: RegressionSet | None) -> list[Any]:
    datasets = [d["name"] for d in DatasetStore(ctx.metadata).list_datasets(project)]
    return [
        html.Div(_controls(found, datasets, _channel_names(ctx, project)), className="form regression-settings"),
        *([] if datasets else [_no_datasets(project)]),
        html.H3("Targets: what to call for each requested model"),
        html.Div(view.target_rows(view.stored_rows(found), _default_endpoint(ctx)), id="regression-targets"),
        html.Div([html.Button("Add a model", id="regression-target-add", className="button secondary"),
                  html.Button("Save regression set", id="regression-save", className="button"),
                  html.Button("Remove regression set", id="regression-remove", className="button danger",
                              hidden=found is None)],  # always there: the save callback's input
                 className="regression-actions"),
    ]


def _controls(found: RegressionSet | None, datasets: list[str], names: dict[int, str]) -> list[Any]:
    chosen = None if found is None else found.channels
    rate = "" if found is None or found.min_pass_rate is None else str(found.min_pass_rate)
    return [
        field("Dataset run on each model change", dcc.Dropdown(
            id="regression-dataset", options=sorted({*datasets, *([found.dataset] if found else [])}),
            value=found.dataset if found else None, clearable=False,
            placeholder="pick a dataset" if datasets else "no datasets yet")),
        field("Minimum pass rate (0 to 1, optional)", dcc.Input(
            id="regression-min-pass-rate", type="text", inputMode="decimal", value=rate,
            placeholder="0.8 fails a run under 80%")),
        field("A failing gate alerts", dcc.Dropdown(
            id="regression-notify", value=EVERY if chosen is None else CHOSEN, clearable=False, searchable=False,
            options=[{"label": "every channel of the project", "value": EVERY},
                     {"label": "only the channels chosen", "value": CHOSEN}])),
        field("Channels chosen (none: the incident only)", dcc.Dropdown(
            id="regression-channels", options=[{"label": f"#{i} {name}", "value": i} for i, name in names.items()],
            value=chosen or [], multi=True, disabled=chosen is None,
            placeholder="pick channels" if names else "no channels yet")),
    ]


def typed_rows(states: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """The target rows' controls (Dash's states of the pattern-matching ids) as row → field → value."""
    rows: dict[int, dict[str, Any]] = {}
    for state in states:
        rows.setdefault(state["id"]["id"], {})[state["id"]["field"]] = state.get("value")
    return dict(sorted(rows.items()))


def request_body(dataset: Any, rate: Any, notify: Any, channels: Any,
                 rows: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """The PUT body the form says; ValueError for what only a form can get wrong (the API checks the rest)."""
    if not dataset:
        raise ValueError("pick the dataset to run on a model change (to stop the runs, remove the regression set).")
    rate = str(rate or "").strip()
    return {"regression_dataset": dataset, "regression_targets": targets(rows.values()),
            "regression_min_pass_rate": number_in(rate) if rate else None,
            "regression_channels": [*(channels or [])] if notify == CHOSEN else None}


def targets(rows: Any) -> dict[str, dict[str, Any]]:
    """Requested model → target, each row as an experiment request's target fields (the run form's
    reading of typed values: trimmed, numbers as numbers, empty left out); blank rows skipped."""
    found: dict[str, dict[str, Any]] = {}
    for row in rows:
        target = target_body(row)
        requested = str(target.pop("requested", "")).strip()
        if not requested and not target:
            continue
        if not requested:
            raise ValueError("a target needs its requested model: the gen_ai.request.model your app sends.")
        if requested in found:
            raise ValueError(f"{requested} has two targets; keep one.")
        found[requested] = target
    return found


def _save(ctx: UiContext, project: str, body: dict[str, Any]) -> tuple[Any, Any]:
    regression = RegressionStore(ctx.metadata)
    try:
        before = regression.get_set(project)
        settings = checked_regression(ctx.metadata, project, body, _limits(ctx))
        assert settings is not None  # the body always names the dataset
        saved = regression.save_set(project, settings.dataset, settings.targets, settings.min_pass_rate,
                                    settings.channels)
    except ApiError as exc:
        return _error(f"Not saved: {exc.message}"), no_update
    except MetadataError as exc:  # the project was deleted meanwhile
        return _error(f"Not saved: {exc}"), no_update
    return _saved_message(saved, before), form(ctx, project, saved)


def _saved_message(saved: RegressionSet | None, before: RegressionSet | None) -> Any:
    if saved is None:
        text = ("Regression set removed: model changes are no longer run; its runs stay listed below." if before
                else "There is no regression set to remove.")
        return ok(text, "regression-saved")
    if not saved.targets:
        return ok(f"Saved {saved.dataset} without targets: nothing runs until a requested model has one.",
                  "regression-saved")
    models = ", ".join(saved.targets)
    return ok(f"Saved: {saved.dataset} runs against {models} on each model change; a model without a run on the "
              "dataset's current version gets a baseline run on the regression job's next pass.", "regression-saved")


def _no_datasets(project: str) -> Any:
    link = dcc.Link("Evaluations, Datasets", href=f"{common.DATASETS}?{urlencode({'project': project})}")
    return html.P(["This project has no datasets yet: create one in ", link,
                   " or with ", html.Code("llmpulse datasets import NAME FILE"), "."], className="muted")


def _channel_names(ctx: UiContext, project: str) -> dict[int, str]:
    return {c["id"]: c["name"] for c in ctx.alerts.list_channels(project)} if ctx.alerts else {}


def _default_endpoint(ctx: UiContext) -> str:
    return ctx.experiments.settings.default_endpoint if ctx.experiments else ""


def _limits(ctx: UiContext) -> Limits:
    """What a target may ask for: the experiment service's limits, as the API checks them."""
    return ctx.experiments.limits if ctx.experiments else NO_SERVICE_LIMITS


def _error(text: str) -> Any:
    return error(text, "regression-error")
