"""Login throttling: growing delays after repeated wrong passwords, per username and per address.

The first `free_failures` wrong passwords of a key (a username, a client address) cost nothing;
each one after that locks the key for `base_delay` doubled per further failure, up to
`max_delay`. While a key is locked every login attempt on it is answered 429 with Retry-After,
without checking the password, so a right guess made during the lock does not reveal itself.
A key that has had no failure for `forget_after` starts again from zero; a right password
clears its username and address. A wrong API token (dashboard.bearer) names no user: it counts
for its address alone.

The counts live in the metadata DB (schemas.metadata.login_failures), shared by every dashboard process.
Behind a reverse proxy every client has the proxy's address, so the per-address lock then
applies to all of them together (the README says so).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

from schemas.metadata.login_failures import FailureRecord, LoginFailures

log = logging.getLogger(__name__)

FREE_FAILURES = 5
BASE_DELAY = 1.0
MAX_DELAY = 900.0
FORGET_AFTER = 3600.0


class LoginThrottle:
    def __init__(self, failures: LoginFailures, free_failures: int = FREE_FAILURES, base_delay: float = BASE_DELAY,
                 max_delay: float = MAX_DELAY, forget_after: float = FORGET_AFTER,
                 clock: Callable[[], float] = time.time) -> None:
        self.failures = failures
        self.free_failures, self.base_delay, self.max_delay = free_failures, base_delay, max_delay
        self.forget_after, self.clock = forget_after, clock

    def retry_after(self, username: str | None, address: str) -> int:
        """Whole seconds until a login for this username from this address may be tried; 0 now."""
        now = self.clock()
        records = self.failures.read(_keys(username, address)).values()
        waits = [r.locked_until - now for r in records if self._live(r, now)]
        return max(0, math.ceil(max(waits, default=0.0)))

    def failed(self, username: str | None, address: str) -> None:
        now = self.clock()
        self.failures.forget_before(now - self.forget_after)
        known = self.failures.read(_keys(username, address))
        for key in _keys(username, address):
            self._count(key, known.get(key) or FailureRecord(), now)

    def succeeded(self, username: str, address: str) -> None:
        self.failures.clear(_keys(username, address))

    def delay_after(self, failures: int) -> float:
        """The lock after the `failures`-th wrong password in a row."""
        over = failures - self.free_failures
        return 0.0 if over <= 0 else min(self.max_delay, self.base_delay * 2 ** (over - 1))

    def _count(self, key: str, record: FailureRecord, now: float) -> None:
        if not self._live(record, now):
            record = FailureRecord()
        failures, locked_until = record.failures + 1, record.locked_until
        if delay := self.delay_after(failures):
            locked_until = now + delay
            log.warning("login throttled: %s locked for %.0f s after %d wrong passwords", key, delay, failures)
        self.failures.write(key, FailureRecord(failures, locked_until, now))

    def _live(self, record: FailureRecord, now: float) -> bool:
        return now - record.last_failure <= self.forget_after


def _keys(username: str | None, address: str) -> tuple[str, ...]:
    by_address = f"address {address[:64]}"
    return (by_address,) if username is None else (f"user {username[:64].lower()!r}", by_address)
