"""Metadata tables of experiments: a run of a dataset version against a target, and its results.

An experiment names the exact dataset version it ran on and copies the dataset's name, so it
stays readable after the dataset is deleted (datasets are only ever marked deleted). Results are
one row per item: the answer, the span that produced it, the scores and whether it passed; the
cost and latency are read back from that span, so they come from the same prices as production.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from schemas.metadata.models import Base, UtcDateTime, utcnow

RUNNERS = ("service", "app")  # the in-service runner calls a target; an app runs its own pipeline
STATUSES = ("running", "done", "failed")


class ExperimentRow(Base):
    __tablename__ = "experiments"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"), index=True)
    dataset_name: Mapped[str] = mapped_column(String(128))
    dataset_version: Mapped[int] = mapped_column()
    runner: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(Text, default="{}")  # JSON: endpoint, model, prompts, parameters
    sealed_key: Mapped[str | None] = mapped_column(Text, default=None)  # the target's API key, sealed
    status: Mapped[str] = mapped_column(String(16), default="running")
    reason: Mapped[str] = mapped_column(Text, default="")  # why it failed
    items_total: Mapped[int] = mapped_column(default=0)
    items_done: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)


class ExperimentResultRow(Base):
    __tablename__ = "experiment_results"
    __table_args__ = (UniqueConstraint("experiment_id", "item_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiments.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[int] = mapped_column()
    trace_id: Mapped[str] = mapped_column(String(32), default="")
    span_id: Mapped[str] = mapped_column(String(16), default="")
    output: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str] = mapped_column(Text, default="")  # why the item has no answer; empty when it has one
    passed: Mapped[bool | None] = mapped_column(default=None)  # None: not scored yet
    scores: Mapped[str] = mapped_column(Text, default="{}")  # JSON {scorer: {"value", "passed", "reason"}}
    latency_ms: Mapped[float | None] = mapped_column(default=None)
    cost: Mapped[float | None] = mapped_column(default=None)  # None: unpriced (counted apart, not as $0)
    input_tokens: Mapped[int | None] = mapped_column(default=None)
    output_tokens: Mapped[int | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
