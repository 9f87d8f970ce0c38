"""Budgets: where each stands this period (spent, forecast), and a form to add one.

Budgets are validated by the API's `parse_budget`, so the same refusals read the same here.
The Costs page draws the same budgets against daily spend; the label and state are shared.
"""

from __future__ import annotations

from typing import Any

from dash import ALL, Dash, Input, Output, State, dcc, html, no_update
from dash.exceptions import PreventUpdate

from dashboard.ui import format as fmt
from dashboard.ui.context import UiContext
from dashboard.ui.forms import clicked, clicked_id, error, field, input_error, ok, parse_pairs, read_only, refused
from dashboard.ui.pages.alerts.rules import channel_options
from dashboard.ui.tables import table
from detectors.alerts.budget_rules import (
    DEFAULT_THRESHOLDS,
    PER_CHOICES,
    PER_NAMES,
    PERIODS,
    BudgetSpec,
    BudgetStatus,
    parse_budget,
)
from detectors.alerts.budget_spend import project_budgets
from detectors.alerts.removal import remove_budget
from detectors.alerts.rules import AlertInputError
from schemas.clickhouse.rollup import rollup_span
from schemas.metadata.models import utcnow

ADMIN_ONLY = "Changing budgets needs the admin role."
WHOLE_SCOPE = "all"  # the "applies to" choice of a budget without `per`
CLEARED = ("budget-amount", "budget-thresholds", "budget-filters", "budget-channels")  # once a budget is added


def section(ctx: UiContext, project: str) -> Any:
    """The budgets; for an admin the form and delete buttons, for a viewer a line saying who may change them."""
    admin = not refused(ctx)
    parts = [html.H2("Budgets"), html.Div(budget_table(ctx, project, admin), id="budgets-list")]
    if admin:
        parts += [html.Div(id="budget-message", className="message"), html.H3("New budget"), _form(ctx, project),
                  html.Div(id="budget-create-message", className="message")]
    else:
        parts.append(read_only(ADMIN_ONLY, "budgets-read-only"))
    return html.Section(parts)


def register(app: Dash, ctx: UiContext) -> None:
    @app.callback(Output("budget-create-message", "children"), Output("budget-message", "children"),
                  Output("budgets-list", "children"), *(Output(name, "value") for name in CLEARED),
                  Input("budget-create", "n_clicks"), Input({"type": "budget-delete", "id": ALL}, "n_clicks"),
                  State("alerts-project", "data"), State("budget-amount", "value"), State("budget-period", "value"),
                  State("budget-thresholds", "value"), State("budget-filters", "value"),
                  State("budget-channels", "value"), State("budget-per", "value"), prevent_initial_call=True)
    def change_budgets(create: int | None, deletes: list[int | None], project: str,
                       *fields: Any) -> tuple[Any, ...]:
        delete_id = clicked_id("budget-delete")
        if ctx.alerts is None or not (delete_id is not None or clicked()):
            raise PreventUpdate
        keep = (no_update,) * len(CLEARED)
        if refused(ctx):
            refusal = error(ADMIN_ONLY, "budget-error")
            answers = (no_update, refusal) if delete_id is not None else (refusal, no_update)
            return *answers, no_update, *keep
        if delete_id is not None:
            return no_update, _delete(ctx, project, delete_id), budget_table(ctx, project, True), *keep
        answer, created = _create(ctx, project, *fields)
        return answer, no_update, budget_table(ctx, project, True), *(("", "", "", []) if created else keep)


def parse_thresholds(text: Any) -> list[Any]:
    """"50, 80, 100" as typed; each item is checked by `parse_budget`, which names what is wrong."""
    items = [part.strip() for part in str(text or "").split(",") if part.strip()]
    return [int(item) if item.isdigit() else item for item in items]


def _create(ctx: UiContext, project: str, amount: Any, period: Any, thresholds: Any, filters: Any,
            channels: Any, per: Any = None) -> tuple[Any, bool]:
    assert ctx.alerts is not None
    try:
        body = {"amount_usd": str(amount).strip() if amount not in (None, "") else None, "period": period,
                "thresholds_pct": parse_thresholds(thresholds) or None, "filters": parse_pairs(filters, "filters"),
                "channels": list(channels or [])}
        if per and per != WHOLE_SCOPE:
            body["per"] = per
        spec = parse_budget(body, known_channels=ctx.alerts.channel_ids(project))
    except AlertInputError as exc:  # the budget's own refusals and parse_pairs'
        return input_error(exc, "budget-error"), False
    budget_id = ctx.alerts.create_budget(project, spec.to_json())
    return ok(f"Budget {budget_id} added: {budget_label(spec)}.", "budget-created"), True


def _delete(ctx: UiContext, project: str, budget_id: int) -> Any:
    assert ctx.alerts is not None
    if not remove_budget(ctx.alerts, project, budget_id, utcnow()):
        return error(f"Budget {budget_id} no longer exists.", "budget-error")
    return ok(f"Budget {budget_id} deleted.", "budget-deleted")


def _form(ctx: UiContext, project: str) -> Any:
    return html.Div([
        field("Amount (USD)", dcc.Input(id="budget-amount", type="text", inputMode="decimal", placeholder="100")),
        field("Per", dcc.Dropdown(id="budget-period", options=list(PERIODS), value="month", clearable=False)),
        field("Applies to", dcc.Dropdown(
            id="budget-per", value=WHOLE_SCOPE, clearable=False,
            options=[{"label": "the whole scope", "value": WHOLE_SCOPE},
                     *({"label": f"each {PER_NAMES[choice]} apart", "value": choice} for choice in PER_CHOICES)])),
        field("Notify at (% of budget)", dcc.Input(id="budget-thresholds", type="text",
                                                   placeholder=", ".join(map(str, DEFAULT_THRESHOLDS)))),
        field("Scope (optional)", dcc.Input(id="budget-filters", type="text", placeholder="model=gpt-4o, tag=beta")),
        field("Notify", dcc.Dropdown(id="budget-channels", options=channel_options(ctx, project), multi=True,
                                     placeholder="channels")),
        html.Button("Add budget", id="budget-create", className="button"),
    ], className="form")


def budget_table(ctx: UiContext, project: str, admin: bool = False) -> Any:
    """Where each budget stands; an admin's rows carry a delete button."""
    assert ctx.alerts is not None
    budgets = project_budgets(ctx.store, ctx.alerts, project, utcnow(), rollup_span(ctx.state))
    if not budgets:
        return html.P("No budgets" + (": add one below; " if admin else ". Once there is one, ") +
                      "GET /api/v1/budget/status tells a gateway whether the project may still spend.")
    # A budget per user (tag) shows its biggest spender's figures (`compute_budget_status`).
    head = ("#", "Budget", "Spent", "Used", "Forecast at period end", "Period ends (UTC)", "Notify at", "Status")
    return table((*head, "") if admin else head, [_row(b.id, spec, s, admin) for b, spec, s in budgets], "budgets")


def _row(budget_id: int, spec: BudgetSpec, status: BudgetStatus, admin: bool) -> Any:
    cells = [html.Td(budget_id),
             html.Td(budget_label(spec) + (f"; biggest spending {PER_NAMES[spec.per]} shown" if spec.per else "")),
             html.Td(fmt.usd(status.spent_usd)), html.Td(fmt.pct(status.used_pct / 100)),
             html.Td(fmt.usd(status.projected_usd)), html.Td(fmt.when(status.period_end, zone=False)),
             html.Td(", ".join(f"{t}%" for t in spec.thresholds_pct)), budget_state(status)]
    if admin:
        cells.append(html.Td(html.Button("delete", id={"type": "budget-delete", "id": budget_id}, className="link")))
    return html.Tr(cells)


def budget_label(spec: BudgetSpec) -> str:
    scope = ", ".join(f"{k}={v}" for k, v in spec.filters)
    each = f" for each {PER_NAMES[spec.per]}" if spec.per else ""
    return f"{fmt.usd(spec.amount_usd)} per {spec.period}{each}" + (f" ({scope})" if scope else "")


def budget_state(status: BudgetStatus) -> Any:
    if not status.allowed:
        return html.Td("over budget", className="err")
    if status.projected_over:
        return html.Td("forecast over", className="costs-warn")
    return html.Td("on track", className="ok")
