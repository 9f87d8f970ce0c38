"""Login for the UI port, and the Host and Origin checks every binding gets.

On loopback the UI runs open (only this machine can reach it), but only for requests that name
it by a local name (DNS rebinding, see schemas.hosts). Off loopback every page and API call
needs a session from /login. The signed cookie carries only a random session token; the session
record and the user's role are read from the metadata DB (cached `role_cache_seconds`), so
logout, deleting a user and changing their role or password end sessions within seconds.
Changes (POST, PUT, DELETE) need the admin role except those in VIEWER_CHANGES and Dash's own
callback requests, whose callbacks check the role themselves. CSRF: the cookie is
SameSite=Strict and HttpOnly, a state-changing request from a foreign Origin (or Referer) is
refused on every binding, and the login form carries a per-session token. Wrong passwords are
throttled (dashboard.throttle): 429 with Retry-After. Scripts and CI machines call /api/v1 (and a
Prometheus server /metrics) with a personal API token instead of a session (dashboard.bearer),
checked on every binding.
"""

from __future__ import annotations

import html
import logging
import secrets
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, g, jsonify, redirect, request, session

from dashboard.bearer import TOKEN_PATHS, TokenLookup, authenticate_bearer, bearer_secret
from dashboard.sessions import SessionLookup
from dashboard.throttle import LoginThrottle
from schemas.hosts import EXEMPT_PATHS, HostPolicy, hostname, is_foreign_origin
from schemas.metadata.login_failures import LoginFailures
from schemas.metadata.sessions import SessionStore, SessionUser
from schemas.metadata.tokens import TokenStore
from schemas.metadata.users import UserStore

log = logging.getLogger(__name__)
OPEN_PATHS = frozenset({"/login", "/logout", "/healthz", "/readyz"})
OPEN_PREFIXES = ("/assets/", "/_dash-component-suites/", "/_favicon.ico")
CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# What a viewer may change (method, Flask rule); every other change needs the admin role.
VIEWER_CHANGES = frozenset({
    ("POST", "/api/v1/alerts/<int:incident_id>/ack"),
    ("POST", "/api/v1/alerts/<int:incident_id>/silence"),
    ("POST", "/api/v1/scores"),
    ("POST", "/api/v1/annotations"),  # labelling; a label that also changes a dataset checks for admin itself
})
DASH_CALLBACKS = "/_dash-update-component"  # open to every role: each callback checks its own
ADMIN_PAGES = ("/settings",)
ROLE_CACHE_SECONDS = 2.0
LOGIN_FIRST = "log in at /login first, or send an API token (Authorization: Bearer lpt_…)"


def install_login(app: Flask, users: UserStore, secret_key: str, required: bool, hosts: HostPolicy,
                  throttle: LoginThrottle | None = None, role_cache_seconds: float = ROLE_CACHE_SECONDS) -> None:
    app.secret_key = secret_key
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Strict")
    lookup = SessionLookup(SessionStore(users.metadata), role_cache_seconds)
    app.extensions["llmpulse.sessions"] = lookup
    app.before_request(lambda: _check_host_and_origin(hosts))
    throttle = throttle or LoginThrottle(LoginFailures(users.metadata))
    tokens = TokenLookup(TokenStore(users.metadata), role_cache_seconds)
    app.before_request(lambda: _check_token(tokens, throttle))
    app.add_url_rule("/login", "login", _login_view(users, lookup, throttle), methods=["GET", "POST"])
    app.add_url_rule("/logout", "logout", _logout, methods=["POST", "GET"])
    if required:
        app.before_request(_guard)


def current_role() -> str | None:
    user = _session_user()
    return user.role if user else None


def current_user() -> str | None:
    user = _session_user()
    return user.username if user else None


def _session_user() -> SessionUser | None:
    """This request's user, looked up once per request (and cached briefly across requests)."""
    if "session_user" not in g:
        token = session.get("sid")
        g.session_user = current_app.extensions["llmpulse.sessions"].resolve(token) if token else None
    return g.session_user


def _check_token(tokens: TokenLookup, throttle: LoginThrottle) -> Any:
    """A bearer API request is this token's user, and nobody else (not the cookie it may carry)."""
    if bearer_secret() is None:
        return None
    g.session_user, refused = authenticate_bearer(tokens, throttle)
    return refused


def _check_host_and_origin(hosts: HostPolicy) -> Any:
    if request.path in EXEMPT_PATHS:
        return None
    if not hosts.allows_host(request.host):
        log.warning("refused a request for host %r from %s", request.host, request.remote_addr)
        return jsonify({"error": f"this server does not answer for the host {hostname(request.host)!r}; "
                                 "use a local name, or add it to LLMPULSE_ALLOWED_HOSTS"}), 421
    if request.method in CHANGING and not _same_origin():
        return jsonify({"error": "cross-origin request refused"}), 403
    return None


def _same_origin() -> bool:
    if bearer_secret() is not None:  # judged by its token alone (dashboard.bearer): a browser never sends one
        return True
    source = request.headers.get("Origin") or request.headers.get("Referer")
    if not source:  # scripts and curl send neither; browsers send Origin
        return request.path.startswith("/api/") or request.path in OPEN_PATHS
    return not is_foreign_origin(source, request.host)


def _guard() -> Any:
    path = request.path
    if path in OPEN_PATHS or path.startswith(OPEN_PREFIXES):
        return None
    role = current_role()
    if role is None:
        if path.startswith(("/api/", "/_dash-")) or path in TOKEN_PATHS:  # a scraper is not sent to /login
            return jsonify({"error": LOGIN_FIRST}), 401
        return redirect("/login?next=" + path)
    if role != "admin" and _needs_admin(path, request.method):
        return jsonify({"error": "this needs the admin role"}), 403
    return None


def _needs_admin(path: str, method: str) -> bool:
    if path.startswith(ADMIN_PAGES):
        return True
    if method not in CHANGING or path == DASH_CALLBACKS:
        return False
    rule = request.url_rule.rule if request.url_rule is not None else ""
    return (method, rule) not in VIEWER_CHANGES


def _login_view(users: UserStore, lookup: SessionLookup, throttle: LoginThrottle) -> Callable[[], Any]:
    def login() -> Any:
        token = session.setdefault("csrf", secrets.token_urlsafe(24))
        if request.method != "POST":
            return _login_page(token, ""), 200
        username, address = request.form.get("username", ""), request.remote_addr or ""
        if wait := throttle.retry_after(username, address):
            log.info("login for %r from %s refused: throttled for %d s more", username, address, wait)
            page = _login_page(token, f"Too many wrong passwords: try again in {wait} s.")
            return page, 429, {"Retry-After": str(wait)}
        if not secrets.compare_digest(request.form.get("csrf", ""), token):
            return _login_page(token, "The form expired; try again."), 401
        if not users.verify(username, request.form.get("password", "")):
            throttle.failed(username, address)
            return _login_page(token, "Wrong username or password."), 401
        throttle.succeeded(username, address)
        session.clear()
        session.update(sid=lookup.sessions.open(username), csrf=secrets.token_urlsafe(24))
        return redirect(_safe_next(request.args.get("next", "/")))

    return login


def _logout() -> Any:
    """Ends the session server-side: a copy of the cookie is worthless from now on."""
    if token := session.get("sid"):
        current_app.extensions["llmpulse.sessions"].end(token)
    session.clear()
    return redirect("/login")


def _safe_next(target: str) -> str:
    """Only a path on this site: never an open redirect to another host."""
    return target if target.startswith("/") and not target.startswith("//") else "/"


def _login_page(token: str, error: str) -> str:
    message = f'<p class="error" id="login-error">{html.escape(error)}</p>' if error else ""
    return f"""<!doctype html><html><head><title>llmpulse · log in</title>
<link rel="stylesheet" href="/assets/style.css"></head><body><main class="page login">
<h1>Log in to llmpulse</h1>{message}
<form method="post"><input type="hidden" name="csrf" value="{html.escape(token)}">
<label>Username <input name="username" id="username" autocomplete="username" required></label>
<label>Password <input name="password" id="password" type="password" autocomplete="current-password" required></label>
<button type="submit" id="login-submit">Log in</button></form></main></body></html>"""
