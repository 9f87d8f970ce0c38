"""API tokens on /api/v1: `Authorization: Bearer lpt_…` acts exactly as a session of the token's user.

A script or a CI machine has no browser to log in with, so it sends a personal token
(schemas.metadata.tokens). A request that carries one is judged by the token alone, never by a
cookie it may also carry, and needs no Origin check: a browser never adds an Authorization
header by itself, and a cross-origin page cannot without a CORS preflight, which this server
does not grant. Dash pages keep using sessions. A wrong token counts as a wrong password for
the client's address (dashboard.throttle), so tokens cannot be guessed at speed; a locked
address is answered 429 before its token is looked at. A good token's verdict is cached for a
few seconds like a session's, so revoking it or changing its user's role holds within them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from flask import jsonify, request

from dashboard.throttle import LoginThrottle
from schemas.metadata.sessions import SessionUser
from schemas.metadata.store import KEY_PREFIX
from schemas.metadata.tokens import TokenStore, is_token

MAX_ENTRIES = 10_000
CREATE_HINT = "create one with `llmpulse tokens create --user NAME` (or on the Settings page)"
REFUSALS = {
    "unknown": "the API token is unknown",
    "revoked": "the API token was revoked",
    "expired": "the API token has expired",
}


class TokenLookup:
    """Good verdicts only are cached: every unknown token goes to the DB, behind the throttle."""

    def __init__(self, tokens: TokenStore, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.tokens, self.ttl, self.clock = tokens, ttl, clock
        self._cache: dict[str, tuple[float, SessionUser]] = {}
        self._lock = threading.Lock()

    def cached(self, token: str) -> SessionUser | None:
        with self._lock:
            hit = self._cache.get(token)
        return hit[1] if hit is not None and self.clock() - hit[0] < self.ttl else None

    def check(self, token: str) -> SessionUser | str:
        """The token's user, or why it was refused ('unknown', 'revoked', 'expired')."""
        verdict = self.tokens.check(token)
        if verdict.username is None or verdict.role is None:
            return verdict.refusal
        user = SessionUser(verdict.username, verdict.role)
        with self._lock:
            if len(self._cache) >= MAX_ENTRIES:
                self._cache.clear()
            self._cache[token] = (self.clock(), user)
        return user


# Where a token is taken besides the API: the Prometheus endpoint (a scraper has no browser either).
TOKEN_PATHS = frozenset({"/metrics"})


def bearer_secret() -> str | None:
    """The secret of an `Authorization: Bearer …` header on an API path (or /metrics); None for anything else."""
    header = request.headers.get("Authorization", "")
    if not (request.path.startswith("/api/") or request.path in TOKEN_PATHS) or header[:7].lower() != "bearer ":
        return None
    return header[7:].strip()


def authenticate_bearer(lookup: TokenLookup, throttle: LoginThrottle) -> tuple[SessionUser | None, Any]:
    """(the token's user, None) for a good token; (None, a 401 or 429 answer) for any other bearer."""
    secret = bearer_secret() or ""
    if secret.startswith(KEY_PREFIX):
        return None, _refuse(401, "this is an ingest key (lp_…): it sends spans to the OTLP port. The API takes "
                                  f"a personal API token (lpt_…); {CREATE_HINT}")
    if user := lookup.cached(secret):
        return user, None
    address = request.remote_addr or ""
    if wait := throttle.retry_after(None, address):
        answer = _refuse(429, f"too many wrong API tokens or passwords from this address: try again in {wait} s")
        return None, (*answer, {"Retry-After": str(wait)})
    found = lookup.check(secret) if is_token(secret) else "unknown"
    if isinstance(found, SessionUser):
        return found, None
    throttle.failed(None, address)
    what = REFUSALS[found] if is_token(secret) else "this is not an llmpulse API token (they start with lpt_)"
    return None, _refuse(401, f"{what}; {CREATE_HINT}")


def _refuse(status: int, message: str) -> tuple[Any, int]:
    return jsonify({"error": message}), status
