"""Who may use the UI and its API: `llmpulse users` (logins) and `llmpulse tokens` (API tokens).

Both act on the metadata DB directly, like `llmpulse keys`, so an operator can create the first
admin and a CI machine's token before the server is reachable from anywhere.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from llmpulse.cli_base import metadata_call, open_metadata
from schemas.metadata.tokens import MAX_EXPIRY_DAYS, TokenInfo


@click.group()
def users() -> None:
    """Local users of the UI (needed when it is bound to anything but loopback)."""


@users.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(["viewer", "admin"]), default="viewer", show_default=True)
@click.password_option(help="At least 10 characters (prompted when not given).")
@click.pass_context
def users_add(ctx: click.Context, username: str, role: str, password: str) -> None:
    store = _user_store(ctx)
    metadata_call(lambda: store.create(username, password, role))
    click.echo(f"user {username} ({role}) created")


@users.command("list")
@click.pass_context
def users_list(ctx: click.Context) -> None:
    for username, role in _user_store(ctx).list():
        click.echo(f"{username}\t{role}")


@users.command("delete")
@click.argument("username")
@click.pass_context
def users_delete(ctx: click.Context, username: str) -> None:
    """Delete a user; their open sessions end within seconds, their API tokens at once."""
    if not _user_store(ctx).delete(username):
        raise click.ClickException(f"no user {username!r}; `llmpulse users list` shows them")
    click.echo(f"user {username} deleted; their sessions and API tokens are ended")


@users.command("set-role")
@click.argument("username")
@click.argument("role", type=click.Choice(["viewer", "admin"]))
@click.pass_context
def users_set_role(ctx: click.Context, username: str, role: str) -> None:
    """Change a user's role; their open sessions end (they log in again with the new role)."""
    store = _user_store(ctx)
    metadata_call(lambda: store.set_role(username, role))
    click.echo(f"user {username} is now {role}; their sessions are ended")


@users.command("passwd")
@click.argument("username")
@click.password_option(help="At least 10 characters (prompted when not given).")
@click.pass_context
def users_passwd(ctx: click.Context, username: str, password: str) -> None:
    """Set a user's password; their open sessions end."""
    store = _user_store(ctx)
    metadata_call(lambda: store.set_password(username, password))
    click.echo(f"password of {username} changed; their sessions are ended")


def _user_store(ctx: click.Context) -> Any:
    from schemas.metadata.users import UserStore

    return UserStore(open_metadata(ctx))


@click.group()
def tokens() -> None:
    """Personal API tokens: how scripts and CI machines call the API of a server that needs a login."""


@tokens.command("create")
@click.option("--user", "username", required=True, help="The user the token acts as (with their role).")
@click.option("--name", default="", help="A label, e.g. where it is used: ci.")
@click.option("--expires-days", type=click.IntRange(1, MAX_EXPIRY_DAYS), default=None,
              help="Refused after this many days (default: never).")
@click.pass_context
def tokens_create(ctx: click.Context, username: str, name: str, expires_days: int | None) -> None:
    """Print a new token once: only its hash is kept."""
    store = _token_store(ctx)
    new = metadata_call(lambda: store.create(username, name, expires_days))
    click.echo(new.token)
    expiry = f"expires {new.info.expires_at:%Y-%m-%d %H:%M} UTC" if new.info.expires_at else "never expires"
    click.echo(f"# token {new.info.id} of {username!r}, {expiry}; it is shown only once. Store it as a CI secret "
               f"and give it to the CLI as LLMPULSE_TOKEN (or --token), to scripts as "
               f"'Authorization: Bearer {new.token[:12]}…'", err=True)


@tokens.command("list")
@click.option("--user", "username", default=None, help="Only this user's tokens.")
@click.pass_context
def tokens_list(ctx: click.Context, username: str | None) -> None:
    """id, user, prefix, name, created, expires, last used, state."""
    from schemas.metadata.models import utcnow

    now = utcnow()
    for token in _token_store(ctx).list(username):
        click.echo("\t".join([str(token.id), token.username, f"{token.prefix}…", token.name, _day(token.created_at),
                              _day(token.expires_at, "never"), _day(token.last_used_at, "unused"), _state(token, now)]))


@tokens.command("revoke")
@click.argument("token_id", type=int)
@click.pass_context
def tokens_revoke(ctx: click.Context, token_id: int) -> None:
    """Refused by every dashboard within seconds."""
    if not _token_store(ctx).revoke(token_id):
        raise click.ClickException(f"no active token with id {token_id}; `llmpulse tokens list` shows them")
    click.echo(f"revoked token {token_id}")


def _token_store(ctx: click.Context) -> Any:
    from schemas.metadata.tokens import TokenStore

    return TokenStore(open_metadata(ctx))


def _day(when: datetime | None, otherwise: str = "") -> str:
    return f"{when:%Y-%m-%d %H:%M}" if when else otherwise


def _state(token: TokenInfo, now: datetime) -> str:
    state = token.state(now)
    return f"revoked {_day(token.revoked_at)}" if state == "revoked" else state
