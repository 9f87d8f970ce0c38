"""APScheduler around the runner: each detector on its own interval, only while holding the lease.

In embedded mode there is one process and the lease is always ours; in server mode several
`llmpulse detectors` may run, and the one holding the lease in the metadata DB does the work
while the others renew their claim and take over within a lease period when it dies.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from datetime import timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from detectors.runner import TRIGGER_SCHEDULE, DetectorRunner
from schemas.metadata.models import utcnow
from schemas.metadata.runs import LeaderLease

log = logging.getLogger(__name__)


def holder_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class DetectorScheduler:
    def __init__(self, runner: DetectorRunner, lease_seconds: float, holder: str | None = None) -> None:
        self.runner = runner
        self.lease = LeaderLease(runner.metadata, holder or holder_name(), timedelta(seconds=lease_seconds))
        self.lease_seconds = lease_seconds
        self.leading = threading.Event()
        self._scheduler = BackgroundScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1})

    def start(self) -> None:
        self._scheduler.add_job(self.renew_lease, IntervalTrigger(seconds=self.lease_seconds / 3),
                                id="lease", next_run_time=utcnow())
        for name, detector in self.runner.detectors.items():
            self._scheduler.add_job(self._tick, IntervalTrigger(seconds=detector.interval), args=[name],
                                    id=f"detector:{name}", next_run_time=utcnow() + timedelta(seconds=1))
        self._scheduler.start()

    def stop(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)
        if self.leading.is_set():
            self.lease.release()
            self.leading.clear()

    def renew_lease(self) -> bool:
        try:
            held = self.lease.acquire()
        except Exception:  # the metadata DB may be briefly away: step down rather than risk two leaders
            log.exception("could not renew the detector lease")
            held = False
        if held != self.leading.is_set():
            log.info("detector scheduler %s: %s", self.lease.holder, "leading" if held else "standing by")
        (self.leading.set if held else self.leading.clear)()
        return held

    def _tick(self, name: str) -> None:
        if self.leading.is_set():
            self.runner.run(name, TRIGGER_SCHEDULE)
