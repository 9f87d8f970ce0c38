"""Login for the UI port when it is reachable from other machines.

On loopback the UI runs open (only this machine can reach it). Off loopback every page and
API call needs a session from /login; changes (POST, PUT, DELETE) need the admin role except
Dash's own callback requests, whose effects are checked by the endpoints they call. CSRF:
the session cookie is SameSite=Strict and HttpOnly, every state-changing request must come
from this origin (Origin or Referer checked), and the login form carries a per-session token.
"""

from __future__ import annotations

import html
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, jsonify, redirect, request, session

from schemas.users import UserStore

OPEN_PATHS = frozenset({"/login", "/logout", "/healthz", "/readyz"})
OPEN_PREFIXES = ("/assets/", "/_dash-component-suites/", "/_favicon.ico")
CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
ADMIN_PREFIXES = ("/api/v1/alert-rules", "/api/v1/channels", "/api/v1/budgets", "/api/v1/projects",
                  "/api/v1/detectors/run", "/api/v1/alerts/")
ADMIN_PAGES = ("/settings",)


def install_login(app: Flask, users: UserStore, secret_key: str, required: bool) -> None:
    app.secret_key = secret_key
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Strict")
    app.add_url_rule("/login", "login", _login_view(users), methods=["GET", "POST"])
    app.add_url_rule("/logout", "logout", _logout, methods=["POST", "GET"])
    if required:
        app.before_request(_guard)


def current_role() -> str | None:
    return session.get("role")


def current_user() -> str | None:
    return session.get("user")


def _guard() -> Any:
    path = request.path
    if path in OPEN_PATHS or path.startswith(OPEN_PREFIXES):
        return None
    if request.method in CHANGING and not _same_origin():
        return jsonify({"error": "cross-origin request refused"}), 403
    role = session.get("role")
    if role is None:
        if path.startswith(("/api/", "/_dash-")):
            return jsonify({"error": "log in at /login first"}), 401
        return redirect("/login?next=" + path)
    if role != "admin" and _needs_admin(path, request.method):
        return jsonify({"error": "this needs the admin role"}), 403
    return None


def _needs_admin(path: str, method: str) -> bool:
    if path.startswith(ADMIN_PAGES):
        return True
    return method in CHANGING and path.startswith(ADMIN_PREFIXES)


def _same_origin() -> bool:
    source = request.headers.get("Origin") or request.headers.get("Referer")
    if not source:
        return request.path.startswith("/api/")  # scripts and curl send neither; browsers send Origin
    return urlsplit(source).netloc == request.host


def _login_view(users: UserStore) -> Callable[[], Any]:
    def login() -> Any:
        token = session.setdefault("csrf", secrets.token_urlsafe(24))
        error = ""
        if request.method == "POST":
            if not secrets.compare_digest(request.form.get("csrf", ""), token):
                error = "The form expired; try again."
            elif role := users.verify(request.form.get("username", ""), request.form.get("password", "")):
                session.clear()
                session.update(user=request.form["username"], role=role, csrf=secrets.token_urlsafe(24))
                return redirect(_safe_next(request.args.get("next", "/")))
            else:
                error = "Wrong username or password."
        return _login_page(session["csrf"], error), 401 if error else 200

    return login


def _logout() -> Any:
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
