"""Login throttling: growing delays after repeated wrong passwords, per username and per address.

The first `free_failures` wrong passwords of a key (a username, a client address) cost nothing;
each one after that locks the key for `base_delay` doubled per further failure, up to
`max_delay`. While a key is locked every login attempt on it is answered 429 with Retry-After,
without checking the password, so a right guess made during the lock does not reveal itself.
A key that has had no failure for `forget_after` starts again from zero; a right password
clears its username and address.

Per process and in memory: with several dashboards behind a balancer an attacker gets each
one's allowance (the README says so). Behind a reverse proxy every client has the proxy's
address, so the per-address lock then applies to all of them together.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

FREE_FAILURES = 5
BASE_DELAY = 1.0
MAX_DELAY = 900.0
FORGET_AFTER = 3600.0
MAX_KEYS = 10_000  # bounds memory when an attacker tries many usernames


@dataclass
class _Record:
    failures: int = 0
    locked_until: float = 0.0
    last_failure: float = 0.0


class LoginThrottle:
    def __init__(self, free_failures: int = FREE_FAILURES, base_delay: float = BASE_DELAY,
                 max_delay: float = MAX_DELAY, forget_after: float = FORGET_AFTER,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.free_failures, self.base_delay, self.max_delay = free_failures, base_delay, max_delay
        self.forget_after, self.clock = forget_after, clock
        self._records: dict[str, _Record] = {}
        self._lock = threading.Lock()

    def retry_after(self, username: str, address: str) -> int:
        """Whole seconds until a login for this username from this address may be tried; 0 now."""
        now = self.clock()
        with self._lock:
            waits = [self._live(key, now).locked_until - now for key in _keys(username, address)]
        return max(0, math.ceil(max(waits)))

    def failed(self, username: str, address: str) -> None:
        now = self.clock()
        with self._lock:
            for key in _keys(username, address):
                self._count(key, now)

    def succeeded(self, username: str, address: str) -> None:
        with self._lock:
            for key in _keys(username, address):
                self._records.pop(key, None)

    def delay_after(self, failures: int) -> float:
        """The lock after the `failures`-th wrong password in a row."""
        over = failures - self.free_failures
        return 0.0 if over <= 0 else min(self.max_delay, self.base_delay * 2 ** (over - 1))

    def _count(self, key: str, now: float) -> None:
        record = self._live(key, now)
        record.failures += 1
        record.last_failure = now
        delay = self.delay_after(record.failures)
        if delay:
            record.locked_until = now + delay
            log.warning("login throttled: %s locked for %.0f s after %d wrong passwords", key, delay, record.failures)
        self._records[key] = record

    def _live(self, key: str, now: float) -> _Record:
        record = self._records.get(key)
        if record is None or now - record.last_failure > self.forget_after:
            if len(self._records) >= MAX_KEYS:
                self._prune(now)
            return _Record()
        return record

    def _prune(self, now: float) -> None:
        """Forget records past their quiet period; if that frees nothing, the oldest half."""
        stale = [k for k, r in self._records.items() if now - r.last_failure > self.forget_after]
        if not stale:
            stale = sorted(self._records, key=lambda k: self._records[k].last_failure)[:len(self._records) // 2]
        for key in stale:
            del self._records[key]


def _keys(username: str, address: str) -> tuple[str, str]:
    return f"user {username.lower()!r}", f"address {address}"
