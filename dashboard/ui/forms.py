"""Pieces every form on the pages shares: a labelled field, the admin check, answers, real clicks.

Every admin-only change checks the role in its own callback (viewers may only acknowledge and
silence incidents, as the API allows), because Dash callbacks POST to
/_dash-update-component, which the route guard lets any signed-in user reach.
"""

from __future__ import annotations

from typing import Any

from dash import ctx as callback_ctx
from dash import html

from dashboard.auth import current_role
from dashboard.ui.context import UiContext
from detectors.alerts.rules import AlertInputError


def field(label: str, control: Any) -> Any:
    return html.Label([html.Span(label), control], className="field")


def refused(ctx: UiContext) -> bool:
    """True when this user may look but not change: login is on and they are not an admin."""
    return ctx.login_required and current_role() != "admin"


def read_only(text: str, element_id: str) -> Any:
    """What a viewer sees in place of a form they may not use: one muted line that says who may."""
    return html.P(text, className="muted", id=element_id)


def ok(text: str, element_id: str) -> Any:
    return html.Span(text, className="ok", id=element_id)


def error(text: str, element_id: str) -> Any:
    return html.Span(text, className="error", id=element_id)


def input_error(exc: AlertInputError, element_id: str) -> Any:
    """A validator's refusal as the API words it: the field it names, then what is wrong (once: most
    messages already begin with their field, "filters.model must be …")."""
    named = not exc.field or exc.message.startswith(exc.field.split(".")[0])
    return error(exc.message if named else f"{exc.field}: {exc.message}", element_id)


def clicked() -> bool:
    """True for a real click; False when a re-rendered list's buttons fired with n_clicks None."""
    return callback_ctx.triggered_id is not None and bool(callback_ctx.triggered[0]["value"])


def clicked_id(kind: str) -> int | None:
    """The id of the row whose `kind` button (a pattern-matching id) was clicked, if one was."""
    trigger = callback_ctx.triggered_id
    if isinstance(trigger, dict) and trigger.get("type") == kind and clicked():
        return int(trigger["id"])
    return None


def number_in(text: Any) -> Any:
    """A number as typed: `2` an int, `0.7` a float; anything else goes as is, for the API's check to
    name it. (Text controls, not type=number: a browser hands Dash None for a number it finds invalid,
    and the field would silently fall back to its default.)"""
    for kind in (int, float):
        try:
            return kind(text)
        except (TypeError, ValueError):
            continue
    return text


def parse_pairs(text: Any, name: str) -> dict[str, str]:
    """`model=gpt-4o, environment=production` as typed in a form; the keys are the caller's to check."""
    pairs = [part.strip() for part in str(text or "").split(",") if part.strip()]
    for pair in pairs:
        key, _, value = pair.partition("=")
        if not key.strip() or not value.strip():
            raise AlertInputError(f"write each filter as key=value, e.g. model=gpt-4o; got {pair!r}", name)
    return {key.strip(): value.strip() for key, _, value in (p.partition("=") for p in pairs)}
