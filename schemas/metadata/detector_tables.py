"""Metadata tables of the detector scheduler: run history, per-detector state and the leader lease."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from schemas.metadata.models import Base, UtcDateTime, utcnow


class DetectorRun(Base):
    """One run of one detector, scheduled or on demand: what it did and how it ended."""

    __tablename__ = "detector_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    detector: Mapped[str] = mapped_column(String(64), index=True)
    trigger: Mapped[str] = mapped_column(String(16))  # schedule | manual
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    outcome: Mapped[str] = mapped_column(String(16), default="running")  # running | ok | error
    rows_read: Mapped[int] = mapped_column(default=0)
    rows_written: Mapped[int] = mapped_column(default=0)
    message: Mapped[str] = mapped_column(Text, default="")


class DetectorState(Base):
    """A detector's small durable memory (e.g. the metrics rollup's ingest watermark)."""

    __tablename__ = "detector_state"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class SchedulerLease(Base):
    """The leader lock: the scheduler holding an unexpired lease is the only one running detectors."""

    __tablename__ = "scheduler_lease"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
