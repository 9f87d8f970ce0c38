"""A short per-process cache in front of the session table, so a page's dozen requests cost one lookup.

An entry lives `ttl` seconds: a session ended by another process (logout there, a user deleted
or given another role from the CLI) stops working here within that time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from schemas.metadata.sessions import SessionStore, SessionUser

MAX_ENTRIES = 10_000


class SessionLookup:
    def __init__(self, sessions: SessionStore, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.sessions, self.ttl, self.clock = sessions, ttl, clock
        self._cache: dict[str, tuple[float, SessionUser | None]] = {}
        self._lock = threading.Lock()

    def resolve(self, token: str) -> SessionUser | None:
        now = self.clock()
        with self._lock:
            hit = self._cache.get(token)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        user = self.sessions.resolve(token)
        with self._lock:
            if len(self._cache) >= MAX_ENTRIES:
                self._cache.clear()
            self._cache[token] = (now, user)
        return user

    def end(self, token: str) -> None:
        """Logout: gone from the table for every process, from this cache at once."""
        self.sessions.end(token)
        with self._lock:
            self._cache.pop(token, None)
