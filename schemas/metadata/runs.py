"""Detector bookkeeping in the metadata DB: run records, small durable state, the leader lease."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from schemas.metadata.detector_tables import DetectorRun, DetectorState, SchedulerLease
from schemas.metadata.models import utcnow
from schemas.metadata.store import Metadata


@dataclass(frozen=True)
class RunRecord:
    id: int
    detector: str
    trigger: str
    started_at: datetime
    finished_at: datetime | None
    outcome: str
    rows_read: int
    rows_written: int
    message: str

    def to_json(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["started_at"] = self.started_at.isoformat()
        out["finished_at"] = self.finished_at.isoformat() if self.finished_at else None
        return out


class RunLog:
    """Start and finish run records; list them newest first."""

    def __init__(self, metadata: Metadata) -> None:
        self.metadata = metadata

    def start(self, detector: str, trigger: str) -> int:
        with self.metadata.session() as db:
            row = DetectorRun(detector=detector, trigger=trigger, started_at=utcnow())
            db.add(row)
            db.commit()
            return row.id

    def finish(self, run_id: int, outcome: str, rows_read: int = 0, rows_written: int = 0,
               message: str = "") -> None:
        with self.metadata.session() as db:
            row = db.get(DetectorRun, run_id)
            if row is not None:
                row.finished_at, row.outcome = utcnow(), outcome
                row.rows_read, row.rows_written, row.message = rows_read, rows_written, message[:4000]
                db.commit()

    def recent(self, detector: str | None = None, limit: int = 100) -> list[RunRecord]:
        with self.metadata.session() as db:
            stmt = select(DetectorRun).order_by(DetectorRun.id.desc()).limit(limit)
            if detector:
                stmt = stmt.where(DetectorRun.detector == detector)
            return [_record(row) for row in db.scalars(stmt)]


    def last_ok(self, detector: str) -> RunRecord | None:
        """The newest run of `detector` that ended ok (the index on detector walks back from the newest)."""
        with self.metadata.session() as db:
            row = db.scalars(select(DetectorRun).where(DetectorRun.detector == detector, DetectorRun.outcome == "ok")
                             .order_by(DetectorRun.id.desc()).limit(1)).first()
            return _record(row) if row is not None else None


def _record(row: DetectorRun) -> RunRecord:
    return RunRecord(row.id, row.detector, row.trigger, row.started_at, row.finished_at, row.outcome,
                     row.rows_read, row.rows_written, row.message)


class StateStore:
    """Key → text, for what a detector must remember between runs and processes."""

    def __init__(self, metadata: Metadata) -> None:
        self.metadata = metadata

    def get(self, key: str) -> str | None:
        with self.metadata.session() as db:
            row = db.get(DetectorState, key)
            return None if row is None else row.value

    def set(self, key: str, value: str) -> None:
        with self.metadata.session() as db:
            row = db.get(DetectorState, key)
            if row is None:
                db.add(DetectorState(key=key, value=value))
            else:
                row.value = value
            db.commit()


class LeaderLease:
    """At most one holder at a time; a holder that stops renewing loses the lease when it expires.

    A conditional UPDATE (holder is me, or the lease expired) is atomic on SQLite and PostgreSQL
    alike, so no dialect-specific locking is needed.
    """

    def __init__(self, metadata: Metadata, holder: str, ttl: timedelta, name: str = "detectors") -> None:
        self.metadata, self.holder, self.ttl, self.name = metadata, holder, ttl, name

    def acquire(self, now: datetime | None = None) -> bool:
        """Take or renew the lease; True when this holder has it until now + ttl."""
        now = now or utcnow()
        with self.metadata.session() as db:
            stmt = (update(SchedulerLease)
                    .where(SchedulerLease.name == self.name)
                    .where((SchedulerLease.holder == self.holder) | (SchedulerLease.expires_at < now))
                    .values(holder=self.holder, expires_at=now + self.ttl))
            if db.execute(stmt).rowcount == 1:
                db.commit()
                return True
            if db.get(SchedulerLease, self.name) is not None:
                return False
            db.add(SchedulerLease(name=self.name, holder=self.holder, expires_at=now + self.ttl))
            try:
                db.commit()
            except IntegrityError:  # another process created it first
                return False
            return True

    def release(self) -> None:
        with self.metadata.session() as db:
            db.execute(update(SchedulerLease)
                       .where(SchedulerLease.name == self.name, SchedulerLease.holder == self.holder)
                       .values(expires_at=utcnow() - timedelta(seconds=1)))
            db.commit()
