"""The CLI's client of a running llmpulse's HTTP API, shared by every command that talks to it.

Those commands (`datasets import`, `eval run`, `eval gate`, `projects show|set`) go over HTTP rather
than opening the data directory, so a CI machine can use a shared server. On loopback the API is open; off
loopback it needs a personal API token (`llmpulse tokens create --user NAME`), given as
`--token` or LLMPULSE_TOKEN and sent as `Authorization: Bearer …`. A refusal or an unreachable
server exits 1 with the server's own message (a usage or file error exits 2, click's default).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn, TypeVar
from urllib.parse import urlsplit

import click
import requests

from llmpulse.config import TOKEN_VARIABLE, client_api_token
from schemas.hosts import is_loopback_name

DEFAULT_URL = "http://127.0.0.1:8050"
TIMEOUT_SECONDS = 60
TOKEN_META = "llmpulse.api_token"  # where --token leaves the token, in the click context's meta
WARNED_META = "llmpulse.cleartext_warned"
TOKEN_HINT = ("create a token with `llmpulse tokens create --user NAME` and give it as LLMPULSE_TOKEN "
              "or --token")
F = TypeVar("F", bound=Callable[..., Any])


class ApiFailed(click.ClickException):
    """The server refused or could not be reached: exit 1, unlike a usage or file error (2)."""

    exit_code = 1


def url_option(func: F) -> F:
    return click.option("--url", envvar="LLMPULSE_URL", default=DEFAULT_URL, show_default=True,
                        help="The llmpulse UI/API address (LLMPULSE_URL).")(func)


def token_option(func: F) -> F:
    """--token, kept in the context (not passed to the command) so `call` finds it by itself."""
    return click.option("--token", envvar=TOKEN_VARIABLE, default=None, expose_value=False,
                        callback=_remember_token, help="An API token, needed off loopback (LLMPULSE_TOKEN).")(func)


def api_options(func: F) -> F:
    """--url and --token, for a command that talks to a running llmpulse."""
    return url_option(token_option(func))


def _remember_token(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    ctx.meta[TOKEN_META] = client_api_token(value)


def api_token() -> str | None:
    """The token of the running command (--token or LLMPULSE_TOKEN), if it has one."""
    ctx = click.get_current_context(silent=True)
    return ctx.meta.get(TOKEN_META) if ctx is not None else None


def call(method: str, url: str, project: str | None, body: Any = None, token: str | None = None,
         timeout: float = TIMEOUT_SECONDS) -> requests.Response:
    """One request with `project=` (None: a route that names the project in its path, and takes no
    `project=`); the token is the command's unless one is given."""
    token = token or api_token()
    if token:
        warn_cleartext(url)
    try:
        return requests.request(method, url, params=None if project is None else {"project": project}, json=body,
                                headers=auth_headers(token), timeout=timeout)
    except requests.RequestException as exc:
        raise ApiFailed(f"cannot reach llmpulse at {url}: {exc.__class__.__name__}; is it running? "
                        "(--url or LLMPULSE_URL)") from exc


def refuse(answer: requests.Response) -> NoReturn:
    """Exit 1 with the server's message; a 401 or 403 also says how to get a token that works."""
    try:
        reason = answer.json().get("error", answer.text)
    except (ValueError, AttributeError):
        reason = answer.text[:200]
    raise ApiFailed(f"llmpulse refused ({answer.status_code}): {reason}{refusal_hint(answer.status_code, api_token())}")


def auth_headers(token: str | None) -> dict[str, str]:
    """The header an API token travels in (none without a token: loopback needs none)."""
    return {"Authorization": f"Bearer {token}"} if token else {}


def refusal_hint(status: int, token: str | None) -> str:
    """What to do about a 401 or 403 of the API, to append to its message; "" for any other status."""
    if status == 401:
        return f" ({TOKEN_HINT})" if token is None else f" (the token was refused; {TOKEN_HINT})"
    if status == 403:
        return " (the token's user lacks the role: create a token with `llmpulse tokens create --user NAME` " \
               "for an admin)"
    return ""


def warn_cleartext(url: str) -> None:
    """Once per command: a token sent over plain HTTP to another machine can be read on the way."""
    parts, ctx = urlsplit(url), click.get_current_context(silent=True)
    if parts.scheme != "http" or is_loopback_name(parts.hostname or "") or (ctx and ctx.meta.get(WARNED_META)):
        return
    if ctx is not None:
        ctx.meta[WARNED_META] = True
    click.echo(f"warning: the API token goes to {parts.hostname} over plain http; use https off this machine",
               err=True)
