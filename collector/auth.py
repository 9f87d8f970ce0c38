"""Which project a request belongs to, and which ingest key sent it, from its ingest key."""

from __future__ import annotations

import base64
import binascii
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from collector.errors import Unauthorized
from schemas.metadata.models import DEFAULT_PROJECT
from schemas.metadata.store import KEY_PREFIX
from schemas.metadata.tokens import is_token

KEY_HEADER = "x-llmpulse-key"


@dataclass(frozen=True)
class Sender:
    """Who sent a request: its project and the id of its ingest key ('' when none was sent).
    The id, never the key, is what ingest records on spans (budgets per ingest key)."""

    project: str
    key_id: str = ""


def key_from_headers(headers: Mapping[str, str]) -> str | None:
    auth = headers.get("Authorization") or headers.get("authorization") or ""
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip() or None
    if auth[:6].lower() == "basic ":
        return _basic_password(auth[6:])
    return (headers.get(KEY_HEADER) or headers.get(KEY_HEADER.title()) or "").strip() or None


def _basic_password(token: str) -> str | None:
    """Langfuse's exporter sends Basic public:secret; an llmpulse key as the secret is accepted."""
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    password = decoded.partition(":")[2]
    return password if password.startswith(KEY_PREFIX) else None


class KeyAuth:
    """Resolves keys through the metadata DB, caching answers briefly (the hot path is per request).
    `resolve` maps a key to (project, key id), or None for an unknown or revoked key."""

    def __init__(self, resolve: Callable[[str], tuple[str, int] | None], *, require_key: bool,
                 ttl: float = 30.0) -> None:
        self._resolve = resolve
        self.require_key = require_key
        self._ttl = ttl
        self._cache: dict[str, tuple[float, Sender | None]] = {}
        self._lock = threading.Lock()

    def project_for(self, headers: Mapping[str, str]) -> str:
        return self.sender_for(headers).project

    def sender_for(self, headers: Mapping[str, str]) -> Sender:
        key = key_from_headers(headers)
        if key is None:
            if self.require_key:
                raise Unauthorized(
                    "an ingest key is required: create one with `llmpulse keys create --project NAME` and "
                    "send it as `Authorization: Bearer <key>` (OTEL_EXPORTER_OTLP_HEADERS)"
                )
            return Sender(DEFAULT_PROJECT)
        if is_token(key):
            raise Unauthorized("this is an API token (lpt_…): it calls the UI's /api/v1. The OTLP port takes an "
                               "ingest key (lp_…); create one with `llmpulse keys create --project NAME`")
        sender = self._lookup(key)
        if sender is None:
            raise Unauthorized("the ingest key is unknown or revoked; create a new one with `llmpulse keys create`")
        return sender

    def _lookup(self, key: str) -> Sender | None:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
        if hit and now - hit[0] < self._ttl:
            return hit[1]
        found = self._resolve(key)
        sender = Sender(found[0], str(found[1])) if found else None
        with self._lock:
            if len(self._cache) > 10000:
                self._cache.clear()
            self._cache[key] = (now, sender)
        return sender
