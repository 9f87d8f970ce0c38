"""Runs detectors by name, records every run, and never lets one detector's failure stop another."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from detectors.base import Detector, DetectorContext, RunResult
from detectors.idle import IdleHook
from schemas.clickhouse.store import Store
from schemas.metadata.models import utcnow
from schemas.metadata.runs import RunLog, StateStore
from schemas.metadata.store import Metadata

log = logging.getLogger(__name__)

TRIGGER_SCHEDULE = "schedule"
TRIGGER_MANUAL = "manual"


class UnknownDetector(KeyError):
    """A detector name nobody registered; the message lists the known ones."""


@dataclass(frozen=True)
class Outcome:
    detector: str
    run_id: int
    outcome: str  # ok | error | skipped
    result: RunResult
    started_at: datetime
    finished_at: datetime

    def to_json(self) -> dict[str, object]:
        return {
            "detector": self.detector, "run_id": self.run_id, "outcome": self.outcome,
            "rows_read": self.result.rows_read, "rows_written": self.result.rows_written,
            "message": self.result.message, "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
        }


class DetectorRunner:
    """One lock per detector: a manual run and a scheduled one never overlap (the second waits).

    `after_idle` runs once the runner has had no run for `idle_delay` seconds (at once when 0):
    once after `run_many`, once after a scheduler tick whose detectors start together.
    """

    def __init__(self, detectors: Sequence[Detector], store: Store, metadata: Metadata,
                 clock: Callable[[], datetime] = utcnow, after_idle: Callable[[], None] | None = None,
                 idle_delay: float = 0.0) -> None:
        self.detectors = {d.name: d for d in detectors}
        self.store, self.metadata, self.clock = store, metadata, clock
        self.idle = IdleHook(after_idle or _nothing, idle_delay)
        self.runs, self.state = RunLog(metadata), StateStore(metadata)
        self._locks = {name: threading.Lock() for name in self.detectors}

    @property
    def names(self) -> list[str]:
        return list(self.detectors)

    def check_names(self, names: Sequence[str]) -> list[str]:
        unknown = [n for n in names if n not in self.detectors]
        if unknown:
            raise UnknownDetector(f"unknown detector {', '.join(unknown)}; known: {', '.join(self.names)}")
        return list(names)

    def run_many(self, names: Sequence[str] | None = None, trigger: str = TRIGGER_MANUAL) -> list[Outcome]:
        """Runs in registration order (metrics before alerts), each to completion."""
        wanted = self.check_names(names) if names else self.names
        with self.idle.busy():
            return [self.run(name, trigger) for name in self.names if name in wanted]

    def run(self, name: str, trigger: str = TRIGGER_MANUAL) -> Outcome:
        detector = self.detectors[self.check_names([name])[0]]
        with self.idle.busy(), self._locks[name]:
            return self._run_locked(detector, trigger)

    def _run_locked(self, detector: Detector, trigger: str) -> Outcome:
        started = self.clock()
        run_id = self.runs.start(detector.name, trigger)
        ctx = DetectorContext(self.store, self.metadata, self.state, started)
        try:
            result, outcome = detector.run(ctx), "ok"
        except Exception as exc:  # a failing detector is logged and retried on its next tick
            log.exception("detector %s failed", detector.name)
            result, outcome = RunResult(message=f"{type(exc).__name__}: {exc}"), "error"
        self.runs.finish(run_id, outcome, result.rows_read, result.rows_written, result.message)
        return Outcome(detector.name, run_id, outcome, result, started, self.clock())


def _nothing() -> None:
    """The idle hook of a runner given none."""
