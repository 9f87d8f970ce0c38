"""The guard states the status endpoint answers from, kept in memory and refreshed in the background.

A gateway asks before every LLM call, so the answer may not wait on any I/O: a daemon thread
reads every guard and the budgets' verdicts (three small metadata queries, whatever the number
of guards) every `interval` seconds and swaps in a new immutable snapshot; a request reads the
current one. The detectors (in this process in embedded mode, in another in server mode) write
the states to the metadata DB on their tick, so both deployments work the same way. A failing
refresh keeps the last snapshot and is logged: a database hiccup never turns into refused calls.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from detectors.alerts.guard_rules import CLOSED
from detectors.alerts.guard_status import GuardSnapshot, Trickle, build_snapshot
from schemas.metadata.guard_store import GuardStore
from schemas.metadata.models import utcnow

log = logging.getLogger(__name__)


class GuardCache:
    def __init__(self, guards: GuardStore, interval: float = 1.0, clock: Callable[[], datetime] = utcnow) -> None:
        self.guards, self.interval, self.clock = guards, interval, clock
        self.snapshot = GuardSnapshot()
        self.trickle = Trickle()
        self.refreshes = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def refresh(self) -> GuardSnapshot:
        """Read the stored states now (at start, on a timer, and after the API changed a guard)."""
        rows = self.guards.snapshot()
        snapshot = build_snapshot(rows.projects, rows.guards, rows.budget_verdicts, self.clock())
        self.snapshot = snapshot  # one assignment: a reader sees the old snapshot or the new, never half
        self.trickle.forget({g.id for guards in snapshot.guards.values() for g in guards if g.state.state != CLOSED})
        self.refreshes += 1
        return snapshot

    def start(self) -> None:
        if self._thread is None:
            self._safe_refresh()
            self._thread = threading.Thread(target=self._loop, name="llmpulse-guard-cache", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._safe_refresh()

    def _safe_refresh(self) -> None:
        try:
            self.refresh()
        except Exception:  # keep answering from the last snapshot; the next tick tries again
            log.exception("guard cache refresh failed; answering from the snapshot of %s", self.snapshot.loaded_at)
