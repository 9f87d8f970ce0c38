"""Guards: each circuit breaker with the state a gateway is told now, its reading and its condition;
for an admin, a form to add one (`guards_form`) and a delete button per guard.

The state shown is the status endpoint's (its cool-down seen as half-open at once), from the same
stored rows the status cache reads. Adding and deleting go through the API's own functions
(`dashboard.api_guards`), so the checks, the refreshed status snapshot and a deleted open guard's
resolved incident are the same from the page, the API and `llmpulse guards`. A viewer sees the
table only; the callback still checks the role, as every change on the page does, because Dash
callbacks are reachable by any signed-in user.
"""

from __future__ import annotations

from typing import Any

from dash import ALL, Dash, Input, Output, State, html, no_update
from dash.exceptions import PreventUpdate

from dashboard.api_guards import remove_guard
from dashboard.ui import format as fmt
from dashboard.ui.context import UiContext
from dashboard.ui.forms import clicked, clicked_id, error, ok, read_only, refused
from dashboard.ui.pages.alerts import guards_form
from dashboard.ui.pages.alerts.rules import THRESHOLD_HINTS
from dashboard.ui.tables import table
from detectors.alerts.guard_rules import CLOSED, OPEN, effective_state, state_from_json, stored_guard
from detectors.alerts.rules import METRICS, format_duration
from detectors.notify.message import format_value
from schemas.metadata.guard_store import GuardStore, StoredGuard
from schemas.metadata.models import utcnow

ADMIN_ONLY = "Changing guards needs the admin role."
STATE_CLASS = {CLOSED: "ok", OPEN: "err"}
STATE_LABEL = {"closed": "closed: calls pass", "open": "open: calls refused", "half_open": "half-open: trickle"}


def section(ctx: UiContext, project: str) -> Any:
    admin = not refused(ctx)
    parts = [html.H2("Guards (circuit breakers)"), html.Div(guard_table(ctx, project, admin), id="guards-list"),
             html.Div(id="guard-message", className="message")]
    if admin:
        parts += [html.H3("New guard"), guards_form.form(ctx, project),
                  html.Div(id="guard-create-message", className="message")]
    else:
        parts.append(read_only(f"{ADMIN_ONLY} A gateway asks GET /api/v1/guard/status before each LLM call.",
                               "guards-read-only"))
    return html.Section(parts)


def register(app: Dash, ctx: UiContext) -> None:
    @app.callback(Output("guard-threshold", "placeholder"), Input("guard-metric", "value"))
    def hint_threshold(metric: str | None) -> str:
        return THRESHOLD_HINTS[METRICS[metric].unit] if metric in METRICS else ""

    @app.callback(Output("guard-create-message", "children"), Output("guard-message", "children"),
                  Output("guards-list", "children"), *(Output(name, "value") for name in guards_form.CLEARED),
                  Input("guard-create", "n_clicks"), Input({"type": "guard-delete", "id": ALL}, "n_clicks"),
                  State("alerts-project", "data"), *(State(name, "value") for name in guards_form.FORM),
                  prevent_initial_call=True)
    def change_guards(create: int | None, deletes: list[int | None], project: str, *fields: Any) -> tuple[Any, ...]:
        delete_id = clicked_id("guard-delete")
        if ctx.alerting is None or not (delete_id is not None or clicked()):
            raise PreventUpdate
        keep = (no_update,) * len(guards_form.CLEARED)
        if refused(ctx):
            refusal = error(ADMIN_ONLY, "guard-error")
            answers = (no_update, refusal) if delete_id is not None else (refusal, no_update)
            return *answers, no_update, *keep
        if delete_id is not None:
            return no_update, _delete(ctx, project, delete_id), guard_table(ctx, project, True), *keep
        answer, created = guards_form.create(ctx, project, *fields)
        return answer, no_update, guard_table(ctx, project, True), *(("", "", "") if created else keep)


def _delete(ctx: UiContext, project: str, guard_id: int) -> Any:
    assert ctx.alerting is not None
    if not remove_guard(ctx.alerting, guards_form.guard_cache(ctx), project, guard_id):
        return error(f"Guard {guard_id} no longer exists.", "guard-error")
    return ok(f"Guard {guard_id} deleted; calls it refused go ahead now.", "guard-deleted")


def guard_table(ctx: UiContext, project: str, admin: bool = False) -> Any:
    guards = GuardStore(ctx.metadata).list(project)
    if not guards:
        return html.P("No guards" + (": add one below, or POST /api/v1/guards, or `llmpulse guards create`. "
                                     if admin else ". ") +
                      "A gateway asks GET /api/v1/guard/status before each LLM call.")
    head = ("#", "Guard", "Condition", "Scope", "State", "Value", "Since (UTC)", "Cool-down", "Half-open trickle")
    return table((*head, "") if admin else head, [_row(g, admin) for g in guards], "guards")


def _row(guard: StoredGuard, admin: bool) -> Any:
    spec, state = stored_guard(guard.spec), state_from_json(guard.state)
    rule, now = spec.rule, utcnow()
    shown = effective_state(state, spec.cooldown, now)
    scope = ", ".join(f"{k}={v}" for k, v in rule.filters) or "all calls"
    kind, number = spec.trickle
    trickle = f"{fmt.pct(number)} of calls" if kind == "fraction" else f"{int(number)} a minute"
    cells = [
        html.Td(guard.id), html.Td(rule.name + ("" if rule.enabled else " (disabled)")),
        html.Td(f"{rule.metric} {rule.comparator} {format_value(rule.metric, rule.threshold)} over "
                f"{format_duration(rule.window)}"),
        html.Td(scope), html.Td(STATE_LABEL[shown], className=STATE_CLASS.get(shown, "costs-warn")),
        html.Td(format_value(rule.metric, state.value)),
        html.Td(fmt.when(state.since, zone=False) if state.since else fmt.MISSING),
        html.Td(format_duration(spec.cooldown)), html.Td(trickle),
    ]
    if admin:
        cells.append(html.Td(html.Button("delete", id={"type": "guard-delete", "id": guard.id}, className="link")))
    return html.Tr(cells)
