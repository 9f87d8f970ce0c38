"""Metadata tables of regression sets: a project's set and target per requested model, and the
runs the regression job started (one per experiment name, so a restarted job finds them)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from schemas.metadata.models import Base, UtcDateTime, utcnow

CHANGE, BASELINE = "change", "baseline"  # what a run tests: a model change, or the version served today


class RegressionSetRow(Base):
    __tablename__ = "regression_sets"

    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    dataset: Mapped[str] = mapped_column(String(128))
    targets: Mapped[str] = mapped_column(Text, default="{}")  # JSON {requested model: target fields}
    min_pass_rate: Mapped[float | None] = mapped_column(default=None)
    channels: Mapped[str | None] = mapped_column(Text, default=None)  # JSON [channel id]; None: every channel
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)  # changes before it are not run
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class RegressionRunRow(Base):
    __tablename__ = "regression_runs"
    __table_args__ = (UniqueConstraint("project_id", "experiment"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    experiment: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))  # CHANGE or BASELINE
    request_model: Mapped[str] = mapped_column(String(256))
    event_id: Mapped[str] = mapped_column(String(64), default="")  # the drift event tested ("" for a baseline)
    change_from: Mapped[str] = mapped_column(Text, default="")
    change_to: Mapped[str] = mapped_column(Text, default="")
    changed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    start_error: Mapped[str] = mapped_column(Text, default="")  # why the experiment could not even start
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    gated_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    passed: Mapped[bool | None] = mapped_column(default=None)
    baseline: Mapped[str] = mapped_column(String(128), default="")  # the experiment it was gated against
    reasons: Mapped[str] = mapped_column(Text, default="[]")  # JSON [reason]
    incident_id: Mapped[int | None] = mapped_column(default=None)
