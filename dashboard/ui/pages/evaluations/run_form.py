"""Running an experiment from the browser: the UI's `llmpulse eval run` and POST /api/v1/experiments.

The form builds the body the API takes and hands it to the same `ExperimentService.start`, through
the API's own error mapping (dashboard.api_experiments), so its checks and their messages are the
API's word for word. A pasted key travels once, in this callback, and is sealed by the service;
no page ever shows it again. Starting an experiment changes data and spends the target's money,
so the callback checks the admin role itself (Dash callbacks POST to /_dash-update-component,
which any signed-in user reaches) and a viewer's page shows a note instead of the form. On
success the page moves to the experiment, which refreshes itself while it runs.
"""

from __future__ import annotations

from typing import Any

from dash import Dash, Input, Output, State, dcc, html, no_update
from dash.exceptions import PreventUpdate

from dashboard.api_experiments import mapped, running_service
from dashboard.params import ApiError
from dashboard.ui.context import UiContext
from dashboard.ui.forms import clicked, error, field, number_in, refused
from dashboard.ui.pages.evaluations import common
from dashboard.ui.urls import PageQuery, parse_query
from schemas.metadata.datasets import DatasetStore

ADMIN_ONLY = "Running an experiment needs the admin role."
# Each control's id → the field of POST /api/v1/experiments it fills.
FIELDS = {"run-name": "name", "run-dataset": "dataset", "run-version": "dataset_version", "run-model": "model",
          "run-endpoint": "endpoint", "run-system": "system_prompt", "run-template": "prompt_template",
          "run-temperature": "temperature", "run-max-tokens": "max_tokens", "run-concurrency": "max_concurrency",
          "run-key-env": "api_key_env", "run-key": "api_key"}
TRIMMED = ("name", "dataset", "model", "endpoint", "api_key_env", "api_key")  # prompts are sent as typed
NUMBERS = ("dataset_version", "temperature", "max_tokens", "max_concurrency")


def form(ctx: UiContext, query: PageQuery, dataset: str = "", version: int | None = None) -> Any:
    """The run form; on a dataset's page `dataset` (and a version other than the current) is filled in."""
    if refused(ctx):
        return common.empty(ADMIN_ONLY + " Ask an admin, or run it from CI with an admin's API token "
                            "(llmpulse eval run --token).", "run-form")
    names = [d["name"] for d in DatasetStore(ctx.metadata).list_datasets(query.project)]
    default_endpoint = ctx.experiments.settings.default_endpoint if ctx.experiments else ""
    return html.Div([
        html.Div([
            field("Experiment name", _text("run-name", "", "capitals-gpt-4o-mini")),
            field("Dataset", dcc.Dropdown(id="run-dataset", options=sorted({*names, *([dataset] if dataset else [])}),
                                          value=dataset or None, placeholder="pick a dataset", clearable=False)),
            field("Dataset version", _number("run-version", "" if version is None else str(version), "current")),
            field("Model", _text("run-model", "", "gpt-4o-mini")),
            _wide(field("Endpoint (OpenAI-compatible base URL)",
                        _text("run-endpoint", default_endpoint, "https://api.openai.com/v1"))),
            field("Key: a server environment variable", _text("run-key-env", "", "LLMPULSE_TARGET_OPENAI")),
            field("…or paste a key (sealed, never shown again)",
                  dcc.Input(id="run-key", type="password", value="", placeholder="sk-…", autoComplete="off")),
            _wide(field("System prompt (optional)", _area("run-system", "You answer in one word."))),
            _wide(field("Prompt template (optional; {{input}} is the item's input)",
                        _area("run-template", "Question: {{input}}"))),
            field("Temperature (0 to 2)", _number("run-temperature", "", "the model's default")),
            field("Max tokens", _number("run-max-tokens", "", "the model's default")),
            field("Concurrency", _number("run-concurrency", "", "the server's default")),
            html.Button("Run experiment", id="run-start", className="button"),
        ], className="form evals-run"),
        html.Div(id="run-message", className="message"),
    ], id="run-form")


def register(app: Dash, ctx: UiContext) -> None:
    @app.callback(Output("run-message", "children"), Output("url", "pathname", allow_duplicate=True),
                  Output("url", "search", allow_duplicate=True), Input("run-start", "n_clicks"),
                  *(State(control, "value") for control in FIELDS), State("url", "search"),
                  prevent_initial_call=True)
    def run_experiment(clicks: int | None, *values: Any) -> tuple[Any, Any, Any]:
        if not clicked():
            raise PreventUpdate
        *fields, search = values
        if refused(ctx):
            return error(ADMIN_ONLY, "run-error"), no_update, no_update
        return start(ctx, parse_query(search), request_body(dict(zip(FIELDS.values(), fields, strict=True))))


def request_body(values: dict[str, Any]) -> dict[str, Any]:
    """The API's body from the form: an empty control is a field not given (the service's default)."""
    body = {}
    for name, value in values.items():
        if isinstance(value, str):
            value = value.strip() if name in TRIMMED or name in NUMBERS or not value.strip() else value
        if value not in (None, ""):
            body[name] = number_in(value) if name in NUMBERS else value
    return body


def start(ctx: UiContext, query: PageQuery, body: dict[str, Any]) -> tuple[Any, Any, Any]:
    """Start it as the API does; on success open its page, else say why as the API would (400, 404, 409)."""
    try:
        started = mapped(lambda: running_service(ctx.experiments).start(query.project, body))
    except ApiError as exc:
        return error(f"Not started: {exc.message}", "run-error"), no_update, no_update
    path, _, search = common.link(query, common.experiment_path(started["name"])).partition("?")
    return None, path, f"?{search}" if search else ""


def _wide(control: Any) -> Any:
    return html.Div(control, className="evals-wide")


def _text(control_id: str, value: str, placeholder: str) -> Any:
    return dcc.Input(id=control_id, type="text", value=value, placeholder=placeholder)


def _area(control_id: str, placeholder: str) -> Any:
    return dcc.Textarea(id=control_id, value="", placeholder=placeholder, rows=2)


def _number(control_id: str, value: str, placeholder: str) -> Any:
    return dcc.Input(id=control_id, type="text", inputMode="decimal", value=value, placeholder=placeholder)
