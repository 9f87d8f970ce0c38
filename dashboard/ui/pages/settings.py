"""Settings: projects (eval sample rate, retention, which cost counts), their regression set
(settings_regression.py), their ingest keys, the UI's users and their API tokens (settings_tokens.py).

A new key is shown once, in the callback's answer only: it is never stored in plain text, so
the list shows its prefix. Every change checks the admin role in its callback too, because
Dash callbacks POST to /_dash-update-component, which the route guard lets any user reach.
"""

from __future__ import annotations

from typing import Any

from dash import ALL, Dash, Input, Output, State, dcc, html, no_update
from dash import ctx as callback_ctx
from dash.exceptions import PreventUpdate

from dashboard.ui import format as fmt
from dashboard.ui.context import UiContext
from dashboard.ui.forms import clicked, clicked_id, error, field, ok, refused
from dashboard.ui.pages import settings_regression, settings_tokens
from dashboard.ui.tables import table
from dashboard.ui.urls import PageQuery, parse_query, search_with
from schemas.metadata.models import COST_PREFERENCES, PREFER_COMPUTED, PREFER_REPORTED
from schemas.metadata.store import KeyInfo, MetadataError, validate_project_name
from schemas.metadata.users import UserStore

MAX_RETENTION_DAYS = 3650
MAX_KEY_NAME = 128  # the ingest_keys.name column
ADMIN_ONLY = "Changing settings needs the admin role."
PREFERENCE_LABELS = {
    PREFER_COMPUTED: "llmpulse's price (list or override)",
    PREFER_REPORTED: "the app's reported cost",
}


def layout(ctx: UiContext, query: PageQuery) -> Any:
    project = ctx.metadata.get_project(query.project)
    return html.Div([
        html.H1("Settings"), dcc.Store(id="settings-project", data=query.project),
        html.H2("Projects"), html.Div(_projects(ctx, query), id="projects-list"),
        html.H2("Project settings"), _project_form(ctx, query.project, project),
        html.Div(id="project-message", className="message"),
        settings_regression.section(ctx, query),
        html.H2("New project"), _create_project_form(), html.Div(id="project-create-message", className="message"),
        html.H2(["Ingest keys of ", html.Code(query.project)]),
        html.Div(id="key-new"), html.Div(_keys(ctx, query.project), id="keys-list"),
        _create_key_form(), html.Div(id="key-message", className="message"),
        html.H2("Users"), _users(ctx), settings_tokens.section(ctx),
    ], className="settings")


def register(app: Dash, ctx: UiContext) -> None:
    settings_tokens.register(app, ctx)
    settings_regression.register(app, ctx)

    @app.callback(Output("url", "search", allow_duplicate=True), Input("settings-project-select", "value"),
                  State("url", "search"), prevent_initial_call=True)
    def select_project(name: str | None, current: str | None) -> str:
        """The selected project lives in the URL, like every other filter: the page re-renders for it."""
        if not name:
            raise PreventUpdate
        return search_with(current, {"project": name})

    @app.callback(Output("project-message", "children"), Output("project-create-message", "children"),
                  Output("projects-list", "children"), Output("settings-project-select", "options"),
                  Input("project-save", "n_clicks"), Input("project-create", "n_clicks"),
                  State("settings-project-select", "value"), State("project-rate", "value"),
                  State("project-retention", "value"), State("project-cost-preference", "value"),
                  State("project-name", "value"), State("url", "search"), prevent_initial_call=True)
    def change_projects(save: int | None, create: int | None, selected: str, rate: Any, days: Any,
                        preference: Any, new_name: Any, search: str | None) -> tuple[Any, Any, Any, Any]:
        if not (save or create):
            raise PreventUpdate
        creating = callback_ctx.triggered_id == "project-create"
        if refused(ctx):
            message = _error(ADMIN_ONLY)
        elif creating:
            message = _create_project(ctx, new_name)
        else:
            message = _save_project(ctx, selected, rate, days, preference)
        query = parse_query(search)
        saved, created = ("", message) if creating else (message, "")
        return saved, created, _projects(ctx, query), _project_names(ctx)

    @app.callback(Output("key-message", "children"), Output("keys-list", "children"), Output("key-new", "children"),
                  Input("key-create", "n_clicks"), Input({"type": "key-revoke", "id": ALL}, "n_clicks"),
                  State("settings-project", "data"), State("key-name", "value"), prevent_initial_call=True)
    def change_keys(create: int | None, revokes: list[int | None], project: str, name: Any) -> tuple[Any, Any, Any]:
        if not clicked():
            raise PreventUpdate  # a re-rendered list's buttons, not a click
        if refused(ctx):  # nothing of the key list: viewers may not see /settings at all
            return _error(ADMIN_ONLY), no_update, no_update
        revoke_id = clicked_id("key-revoke")
        if revoke_id is not None:
            return _revoke_key(ctx, project, revoke_id), _keys(ctx, project), no_update
        message, shown_once = _create_key(ctx, project, name)
        return message, _keys(ctx, project), shown_once


def parse_rate(text: Any) -> float:
    """An eval sample rate typed in a form: a number from 0 to 1."""
    try:
        value = float(str(text).strip())
    except ValueError:
        value = float("nan")
    if not 0 <= value <= 1:  # also refuses nan
        raise ValueError(f"Eval sample rate must be a number from 0 to 1 (0.1 scores 10% of LLM calls), "
                         f"got {_shown(text)}.")
    return value


def parse_retention(text: Any) -> int:
    """Retention typed in a form: whole days from 1 to 3650."""
    try:
        value = int(str(text).strip())
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_RETENTION_DAYS:
        raise ValueError(f"Retention must be a whole number of days from 1 to {MAX_RETENTION_DAYS}, "
                         f"got {_shown(text)}.")
    return value


def _shown(text: Any) -> str:
    return repr(str(text).strip()) if text not in (None, "") else "nothing"


def _error(text: str) -> Any:
    return error(text, "settings-error")


def _save_project(ctx: UiContext, name: str, rate: Any, days: Any, preference: Any) -> Any:
    try:
        sample_rate, retention = parse_rate(rate), parse_retention(days)
        if preference not in COST_PREFERENCES:
            raise ValueError(f"Choose which cost counts: {' or '.join(COST_PREFERENCES)}.")
        project = ctx.metadata.update_project(name, eval_sample_rate=sample_rate, retention_days=retention,
                                              cost_preference=preference)
    except (ValueError, MetadataError) as exc:  # MetadataError: the project was not found
        return _error(str(exc))
    # The collector reloads prices and this choice every 30 s (collector/pipeline.py PriceBookSource).
    return ok(f"Saved {project.name}: eval sample rate {fmt.pct(project.eval_sample_rate)}, "
               f"retention {project.retention_days} days, cost that counts: "
               f"{PREFERENCE_LABELS[project.cost_preference]} (for calls ingested from within 30 seconds on).",
               "project-saved")


def _create_project(ctx: UiContext, name: Any) -> Any:
    name = str(name or "").strip()
    try:
        validate_project_name(name)
    except MetadataError as exc:
        return _error(f"Project not created: {exc}.")
    if ctx.metadata.get_project(name) is not None:
        return _error(f"Project {name!r} already exists.")
    ctx.metadata.ensure_project(name)
    return ok(f"Project {name} created: select it above to give it ingest keys.", "project-created")


def _create_key(ctx: UiContext, project: str, name: Any) -> tuple[Any, Any]:
    name = str(name or "").strip()
    if ctx.metadata.get_project(project) is None:
        return _error(f"Project {project!r} does not exist; create it first."), no_update
    if not 1 <= len(name) <= MAX_KEY_NAME:
        return _error(f"Name the key (1 to {MAX_KEY_NAME} characters), e.g. where it is used: prod-api."), no_update
    new = ctx.metadata.create_key(project, name)
    return ok(f"Key {new.info.id} ({name}) created.", "key-created"), _shown_once(new.key, ctx.collector_endpoint())


def _revoke_key(ctx: UiContext, project: str, key_id: int) -> Any:
    keys = {k.id: k for k in ctx.metadata.list_keys(project)}
    if key_id not in keys:
        return _error(f"Key {key_id} is not a key of project {project!r}.")
    if not ctx.metadata.revoke_key(key_id):
        return _error(f"Key {key_id} was already revoked.")
    # The collector caches key lookups for up to 30 s (collector/auth.py), so say so.
    return ok(f"Key {key_id} ({keys[key_id].prefix}…) revoked: the collector refuses it within 30 seconds.",
               "key-revoked")


def _shown_once(key: str, endpoint: str) -> Any:
    return html.Div([
        html.Strong("Copy this key now: it is shown only once and cannot be recovered."),
        html.Pre(key, id="key-secret", className="code"),
        html.Span("Configure the app's OpenTelemetry exporter with:"),
        html.Pre(_usage(key, endpoint), id="key-usage", className="code"),
        html.Small("The endpoint is this host with the collector's port; in server mode use the collector's "
                   "address if it runs elsewhere."),
    ], className="key-once", id="key-once")


def _usage(key: str, endpoint: str) -> str:
    return (f'export OTEL_EXPORTER_OTLP_ENDPOINT="{endpoint}"\n'
            f'export OTEL_EXPORTER_OTLP_HEADERS="Authorization=Bearer {key}"')


def _project_form(ctx: UiContext, name: str, project: Any) -> Any:
    rate = "" if project is None else str(project.eval_sample_rate)
    days = "" if project is None else str(project.retention_days)
    preference = PREFER_COMPUTED if project is None else project.cost_preference
    return html.Div([
        field("Project", dcc.Dropdown(id="settings-project-select", options=_project_names(ctx), value=name,
                                       clearable=False)),
        field("Eval sample rate (0 to 1)", dcc.Input(id="project-rate", type="text", inputMode="decimal",
                                                      value=rate, placeholder="0.1 scores 10% of calls")),
        field(f"Retention (days, 1 to {MAX_RETENTION_DAYS})", dcc.Input(id="project-retention", type="text",
                                                                        inputMode="numeric", value=days)),
        field("Cost that counts when an app reports one", dcc.Dropdown(
            id="project-cost-preference", value=preference, clearable=False,
            options=[{"label": PREFERENCE_LABELS[p], "value": p} for p in COST_PREFERENCES])),
        html.Button("Save", id="project-save", className="button"),
    ], className="form")


def _create_project_form() -> Any:
    return html.Div([
        field("Name (lowercase letters, digits, - and _)", dcc.Input(id="project-name", type="text",
                                                                      placeholder="checkout-bot")),
        html.Button("Create project", id="project-create", className="button"),
    ], className="form")


def _create_key_form() -> Any:
    return html.Div([
        field("Key name", dcc.Input(id="key-name", type="text", placeholder="prod-api")),
        html.Button("Create key", id="key-create", className="button"),
    ], className="form settings-key-form")


def _project_names(ctx: UiContext) -> list[str]:
    return [p.name for p in ctx.metadata.list_projects()]


def _projects(ctx: UiContext, query: PageQuery) -> Any:
    rows = [html.Tr([
        html.Td(dcc.Link(p.name, href=query.link("/settings", project=p.name))),
        html.Td(fmt.when(p.created_at, zone=False)),
        html.Td(fmt.pct(p.eval_sample_rate)), html.Td(p.retention_days), html.Td(p.cost_preference),
    ], className="selected" if p.name == query.project else "") for p in ctx.metadata.list_projects()]
    head = html.Tr([html.Th(h) for h in ("Project", "Created (UTC)", "Eval sample rate", "Retention (days)",
                                         "Cost that counts")])
    return html.Table([html.Thead(head), html.Tbody(rows)], className="table", id="projects")


def _keys(ctx: UiContext, project: str) -> Any:
    if ctx.metadata.get_project(project) is None:
        return html.P(f"Project {project!r} does not exist.")
    keys = ctx.metadata.list_keys(project)
    if not keys:
        without = ("refuses spans without one" if ctx.login_required
                   else "accepts spans without one, into project default")
        return html.P(f"No ingest keys yet; the collector {without}.")
    head = html.Tr([html.Th(h) for h in ("#", "Name", "Prefix", "Created (UTC)", "Status", "")])
    return html.Table([html.Thead(head), html.Tbody([_key_row(k) for k in keys])], className="table", id="keys")


def _key_row(key: KeyInfo) -> Any:
    revoked = key.revoked_at is not None
    status = f"revoked {fmt.when(key.revoked_at)}" if revoked else "active"
    action = "" if revoked else html.Button("revoke", id={"type": "key-revoke", "id": key.id}, className="link")
    return html.Tr([html.Td(key.id), html.Td(key.name), html.Td(html.Code(f"{key.prefix}…")),
                    html.Td(fmt.when(key.created_at, zone=False)),
                    html.Td(status, className="err" if revoked else "ok"),
                    html.Td(action)], className="key-row")


def _users(ctx: UiContext) -> Any:
    users = UserStore(ctx.metadata).list()
    if not users:
        return html.P(["No users: on loopback the UI is open. Add some with ",
                       html.Code("llmpulse users add NAME --role admin"), " before binding it to another address."])
    rows = [html.Tr([html.Td(name), html.Td(role)]) for name, role in users]
    return table(("Username", "Role"), rows, "users")
