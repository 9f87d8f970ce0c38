"""Guards: each circuit breaker with the state a gateway is told now, its reading and its condition.

Read-only: guards are defined through the API (`POST /api/v1/guards`, the README shows the
gateway side), and the state shown is the status endpoint's (its cool-down seen as half-open
at once), from the same stored rows the status cache reads.
"""

from __future__ import annotations

from typing import Any

from dash import Dash, html

from dashboard.ui import format as fmt
from dashboard.ui.context import UiContext
from dashboard.ui.tables import table
from detectors.alerts.guard_rules import CLOSED, OPEN, effective_state, state_from_json, stored_guard
from detectors.alerts.rules import format_duration
from detectors.notify.message import format_value
from schemas.metadata.guard_store import GuardStore, StoredGuard
from schemas.metadata.models import utcnow

STATE_CLASS = {CLOSED: "ok", OPEN: "err"}
STATE_LABEL = {"closed": "closed: calls pass", "open": "open: calls refused", "half_open": "half-open: trickle"}


def section(ctx: UiContext, project: str) -> Any:
    return html.Section([html.H2("Guards (circuit breakers)"), html.Div(guard_table(ctx, project), id="guards-list")])


def register(app: Dash, ctx: UiContext) -> None:
    """Nothing to register: the section is read-only."""


def guard_table(ctx: UiContext, project: str) -> Any:
    guards = GuardStore(ctx.metadata).list(project)
    if not guards:
        return html.P("No guards: POST /api/v1/guards adds one; a gateway then asks "
                      "GET /api/v1/guard/status before each LLM call.")
    head = ("#", "Guard", "Condition", "Scope", "State", "Value", "Since", "Cool-down", "Half-open trickle")
    return table(head, [_row(g) for g in guards], "guards")


def _row(guard: StoredGuard) -> Any:
    spec, state = stored_guard(guard.spec), state_from_json(guard.state)
    rule, now = spec.rule, utcnow()
    shown = effective_state(state, spec.cooldown, now)
    scope = ", ".join(f"{k}={v}" for k, v in rule.filters) or "all calls"
    kind, number = spec.trickle
    trickle = f"{fmt.pct(number)} of calls" if kind == "fraction" else f"{int(number)} a minute"
    return html.Tr([
        html.Td(guard.id), html.Td(rule.name + ("" if rule.enabled else " (disabled)")),
        html.Td(f"{rule.metric} {rule.comparator} {format_value(rule.metric, rule.threshold)} over "
                f"{format_duration(rule.window)}"),
        html.Td(scope), html.Td(STATE_LABEL[shown], className=STATE_CLASS.get(shown, "costs-warn")),
        html.Td(format_value(rule.metric, state.value)), html.Td(fmt.when(state.since) if state.since else "-"),
        html.Td(format_duration(spec.cooldown)), html.Td(trickle),
    ])
