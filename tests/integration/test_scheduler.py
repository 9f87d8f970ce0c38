"""The leader lease and the detector scheduler, on SQLite and PostgreSQL metadata."""

from __future__ import annotations

import threading
from datetime import timedelta

from detectors.base import DetectorContext, RunResult
from detectors.runner import DetectorRunner
from detectors.scheduler import DetectorScheduler
from schemas.metadata.models import utcnow
from schemas.metadata.runs import LeaderLease, RunLog
from schemas.metadata.store import Metadata
from tests.conftest import wait_for


class CountingDetector:
    def __init__(self, name: str, interval: float, fail: bool = False) -> None:
        self.name, self.interval, self.fail = name, interval, fail
        self.runs = 0
        self.lock = threading.Lock()

    def run(self, ctx: DetectorContext) -> RunResult:
        with self.lock:
            self.runs += 1
        if self.fail:
            raise RuntimeError("boom")
        return RunResult(rows_read=7)


def test_lease_has_one_holder_and_passes_on_expiry(metadata: Metadata) -> None:
    ttl = timedelta(seconds=30)
    first, second = LeaderLease(metadata, "a", ttl), LeaderLease(metadata, "b", ttl)
    now = utcnow()
    assert first.acquire(now) and not second.acquire(now)
    assert first.acquire(now + timedelta(seconds=20))  # renewal extends
    assert not second.acquire(now + timedelta(seconds=40))
    assert second.acquire(now + timedelta(seconds=51)) and not first.acquire(now + timedelta(seconds=52))
    second.release()
    assert first.acquire()


def test_a_failing_detector_is_recorded_and_never_stops_the_others(metadata: Metadata) -> None:
    bad, good = CountingDetector("bad", 60, fail=True), CountingDetector("good", 60)
    runner = DetectorRunner([bad, good], store=None, metadata=metadata)  # type: ignore[arg-type]
    outcomes = runner.run_many()
    assert [(o.detector, o.outcome) for o in outcomes] == [("bad", "error"), ("good", "ok")]
    runs = {r.detector: r for r in RunLog(metadata).recent()}
    assert runs["bad"].outcome == "error" and "RuntimeError: boom" in runs["bad"].message
    assert runs["good"].rows_read == 7 and runs["good"].finished_at is not None


def test_the_idle_hook_follows_a_whole_pass_once_and_its_failure_fails_none(metadata: Metadata) -> None:
    calls: list[str] = []

    def hand_back() -> None:
        calls.append("hook")
        raise OSError("madvise refused")

    bad, good = CountingDetector("bad", 60, fail=True), CountingDetector("good", 60)
    runner = DetectorRunner([bad, good], store=None, metadata=metadata, after_idle=hand_back)  # type: ignore[arg-type]
    outcomes = runner.run_many()
    assert [(o.detector, o.outcome) for o in outcomes] == [("bad", "error"), ("good", "ok")]
    assert calls == ["hook"]
    runner.run("good")
    assert calls == ["hook", "hook"]


def test_only_the_leader_runs_and_a_standby_takes_over(metadata: Metadata) -> None:
    detectors = [CountingDetector("tick", 0.2), CountingDetector("tick", 0.2)]
    schedulers = [DetectorScheduler(DetectorRunner([d], None, metadata), lease_seconds=1.5,  # type: ignore[arg-type]
                                    holder=name) for d, name in zip(detectors, ("one", "two"), strict=True)]
    for scheduler in schedulers:
        scheduler.start()
    try:
        # Three runs of one: both have claimed the lease at start and renewed it since (every 0.5 s).
        wait_for(lambda: max(d.runs for d in detectors) >= 3, 10, "no scheduler ran its detector 3 times")
        leaders = [s for s in schedulers if s.leading.is_set()]
        assert len(leaders) == 1
        leader_index = schedulers.index(leaders[0])
        standby = 1 - leader_index
        assert detectors[leader_index].runs >= 3 and detectors[standby].runs == 0
        schedulers[leader_index]._scheduler.shutdown(wait=True)  # dies without releasing its lease
        wait_for(schedulers[standby].leading.is_set, 5, "the standby did not take over the lease")
        wait_for(lambda: detectors[standby].runs >= 2, 5, "the new leader did not run its detector twice")
    finally:
        for scheduler in schedulers:
            scheduler.stop()
