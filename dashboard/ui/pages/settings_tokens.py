"""Settings, API tokens: create one for a user (shown once), list them, revoke one.

A token acts as its user on /api/v1 (dashboard.bearer), so it is created for a chosen user and
carries that user's role. Only its hash is stored: the list shows its prefix. Like every change
on this page, the callback checks the admin role itself.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dash import ALL, Dash, Input, Output, State, dcc, html, no_update
from dash.exceptions import PreventUpdate
from flask import request

from dashboard.ui import format as fmt
from dashboard.ui.context import UiContext
from dashboard.ui.forms import clicked, clicked_id, error, field, ok, refused
from dashboard.ui.tables import table
from schemas.metadata.models import utcnow
from schemas.metadata.tokens import MAX_EXPIRY_DAYS, TokenError, TokenInfo, TokenStore
from schemas.metadata.users import UserStore

ADMIN_ONLY = "Changing settings needs the admin role."
HEAD = ("#", "User", "Name", "Prefix", "Created (UTC)", "Expires (UTC)", "Last used (UTC)", "Status", "")


def section(ctx: UiContext) -> Any:
    return html.Div([
        html.H2("API tokens"),
        html.P("Scripts and CI jobs call the API with a token of a user, acting with that user's role."),
        html.Div(id="token-new"), html.Div(_tokens(ctx), id="tokens-list"),
        _create_form(ctx), html.Div(id="token-message", className="message"),
    ], className="settings-tokens")


def register(app: Dash, ctx: UiContext) -> None:
    @app.callback(Output("token-message", "children"), Output("tokens-list", "children"),
                  Output("token-new", "children"), Input("token-create", "n_clicks"),
                  Input({"type": "token-revoke", "id": ALL}, "n_clicks"), State("token-user", "value"),
                  State("token-name", "value"), State("token-expires", "value"), prevent_initial_call=True)
    def change_tokens(create: int | None, revokes: list[int | None], user: Any, name: Any,
                      days: Any) -> tuple[Any, Any, Any]:
        if not clicked():
            raise PreventUpdate  # a re-rendered list's buttons, not a click
        if refused(ctx):  # nothing of the token list: viewers may not see /settings at all
            return _error(ADMIN_ONLY), no_update, no_update
        revoke_id = clicked_id("token-revoke")
        if revoke_id is not None:
            return _revoke(ctx, revoke_id), _tokens(ctx), no_update
        message, shown_once = _create(ctx, user, name, days)
        return message, _tokens(ctx), shown_once


def parse_expiry(text: Any) -> int | None:
    """Days typed in the form: empty for never, else a whole number from 1 to MAX_EXPIRY_DAYS."""
    text = str(text if text is not None else "").strip()
    if not text:
        return None
    days = int(text) if text.isdigit() else 0
    if not 1 <= days <= MAX_EXPIRY_DAYS:
        raise ValueError(f"Expires after a whole number of days from 1 to {MAX_EXPIRY_DAYS}, or empty for "
                         f"never; got {text!r}.")
    return days


def _create(ctx: UiContext, user: Any, name: Any, days: Any) -> tuple[Any, Any]:
    if not user:
        return _error("Choose the user the token acts as."), no_update
    try:
        new = TokenStore(ctx.metadata).create(str(user), str(name or "").strip(), parse_expiry(days))
    except (ValueError, TokenError) as exc:
        return _error(str(exc)), no_update
    return ok(f"Token {new.info.id} for {new.info.username} created.", "token-created"), _shown_once(new.token)


def _revoke(ctx: UiContext, token_id: int) -> Any:
    if not TokenStore(ctx.metadata).revoke(token_id):
        return _error(f"Token {token_id} does not exist or was already revoked.")
    return ok(f"Token {token_id} revoked: the API refuses it within seconds.", "token-revoked")


def _shown_once(token: str) -> Any:
    usage = f'export LLMPULSE_URL="{request.host_url.rstrip("/")}"\nexport LLMPULSE_TOKEN="{token}"'
    return html.Div([
        html.Strong("Copy this token now: it is shown only once and cannot be recovered."),
        html.Pre(token, id="token-secret", className="code"),
        html.Span("Store it as a CI secret; the CLI reads:"),
        html.Pre(usage, id="token-usage", className="code"),
    ], className="key-once", id="token-once")


def _create_form(ctx: UiContext) -> Any:
    users = [name for name, _role in UserStore(ctx.metadata).list()]
    return html.Div([
        field("User", dcc.Dropdown(id="token-user", options=users, value=users[0] if users else None,
                                   clearable=False, placeholder="no users yet")),
        field("Token name", dcc.Input(id="token-name", type="text", placeholder="github-actions")),
        field("Expires after (days, empty: never)", dcc.Input(id="token-expires", type="text", inputMode="numeric",
                                                              placeholder="90")),
        html.Button("Create token", id="token-create", className="button"),
    ], className="form settings-token-form")


def _tokens(ctx: UiContext) -> Any:
    tokens = TokenStore(ctx.metadata).list()
    if not tokens:
        return html.P(["No API tokens yet. ", html.Code("llmpulse tokens create --user NAME"), " makes one too."])
    now = utcnow()
    return table(HEAD, [_row(t, now) for t in tokens], "tokens")


def _row(token: TokenInfo, now: datetime) -> Any:
    state = token.state(now)
    status = f"revoked {fmt.when(token.revoked_at)}" if state == "revoked" else state
    action = "" if state == "revoked" else html.Button("revoke", id={"type": "token-revoke", "id": token.id},
                                                       className="link")
    cells = [token.id, token.username, token.name, html.Code(f"{token.prefix}…"), _when(token.created_at),
             _when(token.expires_at), _when(token.last_used_at)]
    return html.Tr([*(html.Td(c) for c in cells), html.Td(status, className="ok" if state == "active" else "err"),
                    html.Td(action)], className="token-row")


def _when(value: datetime | None) -> str:
    return fmt.when(value, zone=False) if value else "never"


def _error(text: str) -> Any:
    return error(text, "token-error")
