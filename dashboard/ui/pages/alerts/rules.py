"""Alert rules: a table (enable or disable, edit, delete) and one form that creates or edits; a viewer
sees the table only, as every section of the page shows a viewer only what they may use.

The form goes through the API's own validation (`parse_rule`, `merge_rule`), so a refusal reads
the same in both places and names its field. An edit is a merge: what the form does not show
(a description set through the API) is kept.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from dash import ALL, Dash, Input, Output, State, dcc, html, no_update
from dash import ctx as callback_ctx
from dash.exceptions import PreventUpdate

from dashboard.ui import charts
from dashboard.ui.context import UiContext
from dashboard.ui.forms import clicked_id, error, field, input_error, ok, parse_pairs, read_only, refused
from dashboard.ui.tables import table
from detectors.alerts.removal import remove_rule
from detectors.alerts.rules import (
    COMPARATORS,
    COUNT,
    METRICS,
    MS,
    PCT,
    RATIO,
    SEVERITIES,
    USD,
    AlertInputError,
    RuleSpec,
    format_duration,
    merge_rule,
    parse_rule,
    stored_rule,
)
from detectors.notify.message import format_value
from schemas.metadata.alert_store import StoredSpec
from schemas.metadata.models import utcnow

ADMIN_ONLY = "Changing rules needs the admin role."
THRESHOLD_HINTS = {RATIO: "a fraction: 0.05 for 5%", USD: "US dollars, e.g. 10", MS: "milliseconds, e.g. 2000",
                   PCT: "percent of the budget, e.g. 80", COUNT: "a count, e.g. 1"}
# The form's controls, in the order the callbacks read them.
FIELDS = ("rule-name", "rule-metric", "rule-comparator", "rule-threshold", "rule-window", "rule-for",
          "rule-severity", "rule-filters", "rule-channels", "rule-renotify")
BLANK = ("", "error_rate", ">", None, "5m", "0s", "warning", "", [], "")
HIDDEN = {"display": "none"}


def section(ctx: UiContext, project: str) -> Any:
    """The rules; for an admin the form and each row's buttons, for a viewer a line saying who may change them."""
    admin = not refused(ctx)
    parts = [html.H2("Rules"), html.Div(rule_table(ctx, project, admin), id="rules-list")]
    if admin:
        parts += [html.H3("New rule", id="rule-form-title"), _form(ctx, project),
                  html.Div(id="rule-message", className="message")]
    else:
        parts.append(read_only(ADMIN_ONLY, "rules-read-only"))
    return html.Section(parts)


def register(app: Dash, ctx: UiContext) -> None:
    @app.callback(Output("rule-threshold", "placeholder"), Input("rule-metric", "value"))
    def hint_threshold(metric: str | None) -> str:
        return THRESHOLD_HINTS[METRICS[metric].unit] if metric in METRICS else ""

    @app.callback(*(Output(name, "value", allow_duplicate=True) for name in FIELDS),
                  Output("rule-editing", "data", allow_duplicate=True), Output("rule-form-title", "children"),
                  Output("rule-create", "children"), Output("rule-cancel", "style"),
                  Input({"type": "rule-edit", "id": ALL}, "n_clicks"), Input("rule-cancel", "n_clicks"),
                  State("alerts-project", "data"), prevent_initial_call=True)
    def load_form(edits: list[int | None], cancel: int | None, project: str) -> tuple[Any, ...]:
        rule_id = clicked_id("rule-edit")
        stored = ctx.alerts.get_rule(project, rule_id) if ctx.alerts and rule_id is not None else None
        if stored is None:
            if callback_ctx.triggered_id != "rule-cancel" or not cancel:
                raise PreventUpdate
            return *BLANK, None, "New rule", "Create rule", HIDDEN
        return (*_form_values(stored.spec), stored.id, f"Edit rule {stored.id}", f"Save rule {stored.id}",
                {"display": "inline-block"})

    @app.callback(Output("rule-message", "children"), Output("rules-list", "children"),
                  Output("rule-editing", "data", allow_duplicate=True),
                  *(Output(name, "value", allow_duplicate=True) for name in FIELDS),
                  Output("rule-form-title", "children", allow_duplicate=True),
                  Output("rule-create", "children", allow_duplicate=True),
                  Output("rule-cancel", "style", allow_duplicate=True),
                  Input("rule-create", "n_clicks"), Input({"type": "rule-delete", "id": ALL}, "n_clicks"),
                  Input({"type": "rule-toggle", "id": ALL}, "n_clicks"),
                  State("alerts-project", "data"), State("rule-editing", "data"),
                  *(State(name, "value") for name in FIELDS), prevent_initial_call=True)
    def change_rules(create: int | None, deletes: list[int | None], toggles: list[int | None], project: str,
                     editing: int | None, *values: Any) -> tuple[Any, ...]:
        delete_id, toggle_id = clicked_id("rule-delete"), clicked_id("rule-toggle")
        saving = callback_ctx.triggered_id == "rule-create" and bool(create)
        if ctx.alerts is None or (delete_id is None and toggle_id is None and not saving):
            raise PreventUpdate
        keep_form = (no_update,) * (len(FIELDS) + 3)
        if refused(ctx):
            return error(ADMIN_ONLY, "rule-error"), no_update, no_update, *keep_form
        reset = False
        if delete_id is not None:
            answer, reset = _delete(ctx, project, delete_id), editing == delete_id
        elif toggle_id is not None:
            answer = _toggle(ctx, project, toggle_id)
        else:
            answer, created = _save(ctx, project, editing, _body(*values))
            reset = created
        # A new rule saved, or the rule being edited deleted: the form is a blank new-rule form again.
        form = (*BLANK, "New rule", "Create rule", HIDDEN) if reset else keep_form
        return answer, rule_table(ctx, project, True), None if reset else editing, *form


def _body(name: Any, metric: Any, comparator: Any, threshold: Any, window: Any, for_: Any, severity: Any,
          filters: Any, channels: Any, renotify: Any) -> dict[str, Any]:
    return {"name": name, "metric": metric, "comparator": comparator, "threshold": threshold,
            "window": window, "for": for_ or "0s", "severity": severity, "filters": filters,
            "channels": list(channels or []), "renotify": renotify or None}


def _save(ctx: UiContext, project: str, editing: int | None, body: dict[str, Any]) -> tuple[Any, bool]:
    """Create, or save the rule being edited; True when a new rule was created."""
    assert ctx.alerts is not None
    channels = ctx.alerts.channel_ids(project)
    existing = ctx.alerts.get_rule(project, editing) if editing is not None else None
    if editing is not None and existing is None:
        return error(f"Rule {editing} no longer exists: cancel the edit to create a new rule.", "rule-error"), False
    try:
        body["filters"] = parse_pairs(body["filters"], "filters")
        if existing is None:
            spec = parse_rule(body, known_channels=channels, default_renotify=_default_renotify(ctx))
        else:
            spec = merge_rule(stored_rule(existing.spec, _default_renotify(ctx)), body, known_channels=channels)
    except AlertInputError as exc:
        return input_error(exc, "rule-error"), False
    if existing is None:
        return ok(f"Rule {ctx.alerts.create_rule(project, spec.to_json())} created.", "rule-created"), True
    ctx.alerts.update_rule(project, existing.id, spec.to_json())
    return ok(f"Rule {existing.id} saved.", "rule-saved"), False


def _toggle(ctx: UiContext, project: str, rule_id: int) -> Any:
    assert ctx.alerts is not None
    stored = ctx.alerts.get_rule(project, rule_id)
    if stored is None:
        return error(f"Rule {rule_id} no longer exists.", "rule-error")
    spec = stored_rule(stored.spec, _default_renotify(ctx))
    ctx.alerts.update_rule(project, rule_id, {**spec.to_json(), "enabled": not spec.enabled})
    verb = "enabled" if not spec.enabled else "disabled: it is not evaluated until enabled again"
    return ok(f"Rule {rule_id} {verb}.", "rule-toggled")


def _delete(ctx: UiContext, project: str, rule_id: int) -> Any:
    assert ctx.alerts is not None
    engine = ctx.alerting.engine if ctx.alerting else None
    if not remove_rule(ctx.alerts, engine, project, rule_id, utcnow()):
        return error(f"Rule {rule_id} no longer exists.", "rule-error")
    return ok(f"Rule {rule_id} deleted.", "rule-deleted")


def _default_renotify(ctx: UiContext) -> timedelta:
    return ctx.alerting.default_renotify if ctx.alerting else RuleSpec.renotify


def _form_values(spec: dict[str, Any]) -> tuple[Any, ...]:
    filters = ", ".join(f"{k}={v}" for k, v in (spec.get("filters") or {}).items())
    return (spec["name"], spec["metric"], spec["comparator"], spec["threshold"], spec["window"], spec["for"],
            spec["severity"], filters, list(spec.get("channels") or []), spec.get("renotify") or "")


def _form(ctx: UiContext, project: str) -> Any:
    name, metric, comparator, threshold, window, for_, severity, filters, channels, renotify = BLANK
    return html.Div([
        dcc.Store(id="rule-editing", data=None),
        field("Name", dcc.Input(id="rule-name", type="text", value=name, placeholder="Error rate high")),
        field("Metric", dcc.Dropdown(id="rule-metric", options=metric_options(),
                                     value=metric, clearable=False)),
        field("When", dcc.Dropdown(id="rule-comparator", options=list(COMPARATORS), value=comparator,
                                   clearable=False)),
        field("Threshold", dcc.Input(id="rule-threshold", type="number", value=threshold)),
        field("Window", dcc.Input(id="rule-window", type="text", value=window)),
        field("For", dcc.Input(id="rule-for", type="text", value=for_)),
        field("Severity", dcc.Dropdown(id="rule-severity", options=list(SEVERITIES), value=severity,
                                       clearable=False)),
        field("Filters (optional)", dcc.Input(id="rule-filters", type="text", value=filters,
                                              placeholder="model=gpt-4o, environment=production")),
        field("Notify", dcc.Dropdown(id="rule-channels", options=channel_options(ctx, project), value=channels,
                                     multi=True, placeholder="channels (none: the incident list only)")),
        field("Re-notify every", dcc.Input(id="rule-renotify", type="text", value=renotify,
                                           placeholder=f"{format_duration(_default_renotify(ctx))} (0s: never)")),
        html.Button("Create rule", id="rule-create", className="button"),
        html.Button("Cancel edit", id="rule-cancel", className="button secondary", style=HIDDEN),
    ], className="form")


def channel_options(ctx: UiContext, project: str) -> list[dict[str, Any]]:
    channels = ctx.alerts.list_channels(project) if ctx.alerts else []
    return [{"label": f"#{c['id']} {c['type']}: {c['name']}", "value": c["id"]} for c in channels]


def rule_table(ctx: UiContext, project: str, admin: bool = False) -> Any:
    """The rules; an admin's rows carry their disable, edit and delete buttons."""
    assert ctx.alerts is not None
    rules = ctx.alerts.list_rules(project)
    if not rules:
        return html.P("No rules yet" + (": create one below." if admin else "."))
    head = ("#", "Name", "Metric", "Condition", "Window", "Filters", "Notify", "Severity", "State")
    return table((*head, "") if admin else head, [_rule_row(r, admin) for r in rules], "rules")


def _rule_row(rule: StoredSpec, admin: bool) -> Any:
    spec, enabled = rule.spec, rule.spec.get("enabled", True)
    filters = ", ".join(f"{k}={v}" for k, v in (spec.get("filters") or {}).items()) or "all calls"
    notify = ", ".join(f"#{c}" for c in spec.get("channels") or []) or "—"
    state = rule.state.get("state", "ok") if enabled else "disabled"
    cells = [html.Td(rule.id), html.Td(spec["name"]),
             html.Td(charts.metric_label(spec["metric"]), title=spec["metric"]),
             html.Td(f"{spec['comparator']} {format_value(spec['metric'], spec['threshold'])}"),
             html.Td(spec["window"]), html.Td(filters), html.Td(notify), html.Td(spec["severity"]), html.Td(state)]
    if admin:
        cells.append(html.Td([
            html.Button("disable" if enabled else "enable", id={"type": "rule-toggle", "id": rule.id},
                        className="link"),
            html.Button("edit", id={"type": "rule-edit", "id": rule.id}, className="link"),
            html.Button("delete", id={"type": "rule-delete", "id": rule.id}, className="link")]))
    return html.Tr(cells, className="rule" + ("" if enabled else " disabled"))


def metric_options() -> list[dict[str, str]]:
    """The rule metrics in words, each with the id the API and the CLI take ("p95 latency ·
    latency_p95_ms"), its description on hover."""
    return [{"label": f"{charts.metric_label(m)} · {m}", "value": m, "title": info.description}
            for m, info in METRICS.items()]
