"""Alerts: incidents with their state, the rules (create from a form, delete), channels."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from dash import ALL, Dash, Input, Output, State, dcc, html
from dash import ctx as callback_ctx
from dash.exceptions import PreventUpdate

from dashboard.auth import current_role
from dashboard.ui import format as fmt
from detectors.alerts.rules import COMPARATORS, METRICS, SEVERITIES, AlertInputError, parse_rule

if TYPE_CHECKING:
    from dashboard.ui.app import UiContext
    from dashboard.ui.urls import PageQuery

DEFAULT_RENOTIFY = timedelta(hours=4)


def layout(ctx: UiContext, query: PageQuery) -> Any:
    return html.Div([
        html.H1("Alerts"), dcc.Store(id="alerts-project", data=query.project),
        html.H2("Incidents"), _incidents(ctx, query.project),
        html.H2("Rules"), html.Div(_rules(ctx, query.project), id="rules-list"),
        html.H2("New rule"), _form(), html.Div(id="rule-message", className="message"),
        html.H2("Channels"), _channels(ctx, query.project),
    ])


def register(app: Dash, ctx: UiContext) -> None:
    @app.callback(Output("rule-message", "children"), Output("rules-list", "children"),
                  Input("rule-create", "n_clicks"), Input({"type": "rule-delete", "id": ALL}, "n_clicks"),
                  State("alerts-project", "data"), State("rule-name", "value"), State("rule-metric", "value"),
                  State("rule-comparator", "value"), State("rule-threshold", "value"), State("rule-window", "value"),
                  State("rule-for", "value"), State("rule-severity", "value"), State("rule-model", "value"),
                  prevent_initial_call=True)
    def change_rules(create: int | None, deletes: list[int | None], project: str, *fields: Any) -> tuple[Any, Any]:
        if ctx.alerts is None or not (create or any(deletes)):
            raise PreventUpdate
        if ctx.login_required and current_role() != "admin":
            return html.Span("Changing rules needs the admin role.", className="error"), _rules(ctx, project)
        trigger = callback_ctx.triggered_id
        if isinstance(trigger, dict):
            ctx.alerts.delete_rule(project, int(trigger["id"]))
            return html.Span(f"Rule {trigger['id']} deleted.", className="ok"), _rules(ctx, project)
        return _create(ctx, project, *fields), _rules(ctx, project)


def _create(ctx: UiContext, project: str, name: Any, metric: Any, comparator: Any, threshold: Any, window: Any,
            for_: Any, severity: Any, model: Any) -> Any:
    body = {"name": name, "metric": metric, "comparator": comparator, "threshold": threshold, "window": window,
            "for": for_ or "0s", "severity": severity, "filters": {"model": model} if model else {}}
    assert ctx.alerts is not None
    try:
        spec = parse_rule(body, known_channels=ctx.alerts.channel_ids(project), default_renotify=DEFAULT_RENOTIFY)
    except AlertInputError as exc:
        return html.Span(f"{exc.field}: {exc.message}" if exc.field else exc.message, className="error",
                         id="rule-error")
    rule_id = ctx.alerts.create_rule(project, spec.to_json())
    return html.Span(f"Rule {rule_id} created.", className="ok", id="rule-created")


def _form() -> Any:
    def field(label: str, control: Any) -> Any:
        return html.Label([html.Span(label), control], className="field")

    return html.Div([
        field("Name", dcc.Input(id="rule-name", type="text", placeholder="Error rate high")),
        field("Metric", dcc.Dropdown(id="rule-metric", options=list(METRICS), value="error_rate", clearable=False)),
        field("When", dcc.Dropdown(id="rule-comparator", options=list(COMPARATORS), value=">", clearable=False)),
        field("Threshold", dcc.Input(id="rule-threshold", type="number", placeholder="0.05 for 5%")),
        field("Window", dcc.Input(id="rule-window", type="text", value="5m")),
        field("For", dcc.Input(id="rule-for", type="text", value="0s")),
        field("Severity", dcc.Dropdown(id="rule-severity", options=list(SEVERITIES), value="warning",
                                       clearable=False)),
        field("Model (optional)", dcc.Input(id="rule-model", type="text")),
        html.Button("Create rule", id="rule-create", className="button"),
    ], className="form")


def _rules(ctx: UiContext, project: str) -> Any:
    rules = ctx.alerts.list_rules(project) if ctx.alerts else []
    if not rules:
        return html.P("No rules yet.")
    rows = [html.Tr([html.Td(r.id), html.Td(r.spec["name"]), html.Td(r.spec["metric"]),
                     html.Td(f"{r.spec['comparator']} {r.spec['threshold']}"), html.Td(r.spec["window"]),
                     html.Td(r.spec["severity"]), html.Td(r.state.get("state", "ok")),
                     html.Td(html.Button("delete", id={"type": "rule-delete", "id": r.id}, className="link"))])
            for r in rules]
    head = html.Tr([html.Th(h) for h in ("#", "Name", "Metric", "Condition", "Window", "Severity", "State", "")])
    return html.Table([html.Thead(head), html.Tbody(rows)], className="table", id="rules")


def _incidents(ctx: UiContext, project: str) -> Any:
    incidents = ctx.alerts.list_incidents(project, None, 100) if ctx.alerts else []
    if not incidents:
        return html.P("No incidents.")
    rows = [html.Tr([html.Td(i["id"]), html.Td(i["title"]), html.Td(i["severity"]), html.Td(i["state"]),
                     html.Td(fmt.when(i["started_at"])), html.Td(" → ".join(h["kind"] for h in i["history"])),
                     html.Td(", ".join(d["status"] for d in i["deliveries"]))]) for i in incidents]
    head = html.Tr([html.Th(h) for h in ("#", "Alert", "Severity", "State", "Started", "Timeline", "Deliveries")])
    return html.Table([html.Thead(head), html.Tbody(rows)], className="table", id="incidents")


def _channels(ctx: UiContext, project: str) -> Any:
    channels = ctx.alerts.list_channels(project) if ctx.alerts else []
    if not channels:
        return html.P("No channels: add one with POST /api/v1/channels.")
    rows = [html.Tr([html.Td(c["id"]), html.Td(c["type"]), html.Td(c["name"]), html.Td(c["target"])])
            for c in channels]
    return html.Table([html.Thead(html.Tr([html.Th(h) for h in ("#", "Type", "Name", "Target")])),
                       html.Tbody(rows)], className="table", id="channels")
