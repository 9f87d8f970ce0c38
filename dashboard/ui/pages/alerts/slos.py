"""SLOs: each objective's error budget left (with a bar), its burn rates and the state of its two
burn-rate alerts, and a form to add one. Validation is the API's `parse_slo`, so refusals read the
same here; figures are the API's (`detectors.slo.status`), read from the per-minute SLO counts."""

from __future__ import annotations

import secrets
from typing import Any

from dash import ALL, Dash, Input, Output, State, dcc, html, no_update
from dash.exceptions import PreventUpdate

from dashboard.ui import format as fmt
from dashboard.ui.context import UiContext
from dashboard.ui.forms import (
    clicked,
    clicked_id,
    error,
    field,
    input_error,
    number_in,
    ok,
    parse_pairs,
    read_only,
    refused,
)
from dashboard.ui.pages.alerts.rules import channel_options
from dashboard.ui.tables import table
from detectors.alerts.rules import AlertInputError
from detectors.slo.burn import BURN_ALERTS
from detectors.slo.detector import remove_slo
from detectors.slo.spec import SLIS, parse_slo
from detectors.slo.status import SloStatus, slo_statuses
from schemas.metadata.alert_store import StoredSlo
from schemas.metadata.models import utcnow

ADMIN_ONLY = "Changing SLOs needs the admin role."
FORM = ("slo-name", "slo-sli", "slo-threshold", "slo-target", "slo-window", "slo-filters", "slo-channels")
CLEARED = ("slo-name", "slo-threshold", "slo-filters")  # once an SLO is added
_KEY_BITS = 63
_TEXT_TONE = {"ok": "ok", "costs-warn": "costs-warn", "err": "error"}  # the site's text colours


def section(ctx: UiContext, project: str) -> Any:
    """The SLOs; for an admin the form and delete buttons, for a viewer a line saying who may change them."""
    admin = not refused(ctx)
    parts = [html.H2("SLOs"), html.Div(slo_table(ctx, project, admin), id="slos-list")]
    if admin:
        parts += [html.Div(id="slo-message", className="message"), html.H3("New SLO"), _form(ctx, project),
                  html.Div(id="slo-create-message", className="message")]
    else:
        parts.append(read_only(ADMIN_ONLY, "slos-read-only"))
    return html.Section(parts)


def register(app: Dash, ctx: UiContext) -> None:
    @app.callback(Output("slo-create-message", "children"), Output("slo-message", "children"),
                  Output("slos-list", "children"), *(Output(name, "value") for name in CLEARED),
                  Input("slo-create", "n_clicks"), Input({"type": "slo-delete", "id": ALL}, "n_clicks"),
                  State("alerts-project", "data"), *(State(name, "value") for name in FORM),
                  prevent_initial_call=True)
    def change_slos(create: int | None, deletes: list[int | None], project: str, *fields: Any) -> tuple[Any, ...]:
        delete_id = clicked_id("slo-delete")
        if ctx.alerts is None or not (delete_id is not None or clicked()):
            raise PreventUpdate
        keep = (no_update,) * len(CLEARED)
        if refused(ctx):
            refusal = error(ADMIN_ONLY, "slo-error")
            answers = (no_update, refusal) if delete_id is not None else (refusal, no_update)
            return *answers, no_update, *keep
        if delete_id is not None:
            return no_update, _delete(ctx, project, delete_id), slo_table(ctx, project, True), *keep
        answer, created = _create(ctx, project, *fields)
        return answer, no_update, slo_table(ctx, project, True), *(("", "", "") if created else keep)


def _create(ctx: UiContext, project: str, name: Any, sli: Any, threshold: Any, target: Any, window: Any,
            filters: Any, channels: Any) -> tuple[Any, bool]:
    assert ctx.alerts is not None
    try:
        body = {"name": name, "sli": sli, "threshold": None if threshold in (None, "") else number_in(threshold),
                "target": _target(target), "window": window or None, "filters": parse_pairs(filters, "filters"),
                "channels": list(channels or [])}
        spec = parse_slo(body, known_channels=ctx.alerts.channel_ids(project))
    except AlertInputError as exc:
        return input_error(exc, "slo-error"), False
    slo_id = ctx.alerts.create_slo(project, secrets.randbits(_KEY_BITS), spec.to_json())
    return ok(f"SLO {slo_id} added: {spec.name}. Its budget shows once the SLO detector has counted its window.",
              "slo-created"), True


def _target(text: Any) -> Any:
    """The form asks for a percentage ("99.9"); the API takes a fraction."""
    value = number_in(str(text or "").strip().rstrip("%"))
    return value / 100 if isinstance(value, int | float) and not isinstance(value, bool) else value


def _delete(ctx: UiContext, project: str, slo_id: int) -> Any:
    assert ctx.alerts is not None
    if not remove_slo(ctx.alerts, project, slo_id, utcnow()):
        return error(f"SLO {slo_id} no longer exists.", "slo-error")
    return ok(f"SLO {slo_id} deleted.", "slo-deleted")


def _form(ctx: UiContext, project: str) -> Any:
    return html.Div([
        field("Name", dcc.Input(id="slo-name", type="text", placeholder="answers succeed")),
        field("SLI", dcc.Dropdown(id="slo-sli", options=list(SLIS), value="errors", clearable=False)),
        field("Threshold (ms or USD)", dcc.Input(id="slo-threshold", type="text", placeholder="800")),
        field("Target (%)", dcc.Input(id="slo-target", type="text", value="99.9")),
        field("Window", dcc.Input(id="slo-window", type="text", value="28d")),
        field("Scope (optional)", dcc.Input(id="slo-filters", type="text", placeholder="model=gpt-4o")),
        field("Notify", dcc.Dropdown(id="slo-channels", options=channel_options(ctx, project), multi=True,
                                     placeholder="channels")),
        html.Button("Add SLO", id="slo-create", className="button"),
    ], className="form")


def slo_table(ctx: UiContext, project: str, admin: bool = False) -> Any:
    """The SLOs with their budgets; an admin's rows carry a delete button."""
    assert ctx.alerts is not None
    slos = ctx.alerts.list_slos(project)
    if not slos:
        return html.P("No SLOs" + (": add one below." if admin else ".") + " Each pages on a fast burn (1 h and "
                      "5 min above 14.4x) and warns on a slow one (6 h and 30 min above 6x).")
    statuses = slo_statuses(ctx.store, slos, utcnow())
    head = ("#", "SLO", "SLI", "Target", "Window", "Now", "Error budget left", "Burn 1h", "Burn 6h", "Alerts")
    return table((*head, "") if admin else head, [_row(slo, statuses[slo.id], admin) for slo in slos], "slos")


def _row(slo: StoredSlo, status: SloStatus, admin: bool) -> Any:
    spec = slo.spec
    threshold = "" if spec.get("threshold") is None else f" ≤ {fmt.plain(spec['threshold'])} {SLIS[spec['sli']].unit}"
    cells = [
        html.Td(slo.id), html.Td(spec["name"] + _scope(spec)), html.Td(spec["sli"] + threshold),
        html.Td(f"{spec['target'] * 100:.4g}%"), html.Td(spec["window"]),
        html.Td(fmt.pct(status.budget.sli) if status.budget.sli is not None else "—"),
        _budget_cell(status), html.Td(_rate(status.burn["1h"])), html.Td(_rate(status.burn["6h"])),
        _alerts_cell(slo),
    ]
    if admin:
        cells.append(html.Td(html.Button("delete", id={"type": "slo-delete", "id": slo.id}, className="link")))
    return html.Tr(cells)


def _scope(spec: dict[str, Any]) -> str:
    scope = ", ".join(f"{k}={v}" for k, v in (spec.get("filters") or {}).items())
    return f" ({scope})" if scope else ""


def _budget_cell(status: SloStatus) -> Any:
    if not status.filled:
        return html.Td("counting…", className="muted")
    left = status.budget.left
    shown = max(0.0, min(1.0, left))
    tone = "ok" if left > 0.25 else "costs-warn" if left > 0 else "err"
    return html.Td([html.Div(html.Div(className=f"slo-fill {tone}", style={"width": f"{shown * 100:.0f}%"}),
                             className="slo-bar"), html.Span(f"{left * 100:.1f}%", className=_TEXT_TONE[tone])])


def _alerts_cell(slo: StoredSlo) -> Any:
    states = [(a, (slo.state.get(a.name) or {}).get("state", "ok")) for a in BURN_ALERTS]
    active = [f"{a.name} {s}" for a, s in states if s in ("pending", "firing")]
    if not active:
        return html.Td("ok", className="ok")
    return html.Td(", ".join(active), className="sev-critical" if "page firing" in active else "sev-warning")


def _rate(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}x"
