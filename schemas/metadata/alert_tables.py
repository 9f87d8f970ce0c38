"""Metadata tables of alerting: channels, rules, incidents with their history, deliveries, budgets.

Rules and budgets keep their validated spec as JSON (the API shape), so the validation in
`detectors.alerts` is the one definition of what a rule is. Channel secrets are stored only
encrypted (`schemas.metadata.secrets`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from schemas.metadata.models import Base, UtcDateTime, utcnow

# SQLite hands a deleted row's id to the next row unless told not to: an incident's `rule_id`, a
# delivery's `channel_id` or an alert link would then name an unrelated newer rule or channel.
# (A database created before this keeps its tables as they were; PostgreSQL never reuses ids.)
NO_REUSE = {"sqlite_autoincrement": True}


class ChannelRow(Base):
    __tablename__ = "alert_channels"
    __table_args__ = NO_REUSE

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    secrets: Mapped[str] = mapped_column(Text)  # encrypted JSON: url, routing_key, secret
    hint: Mapped[str] = mapped_column(String(200), default="")  # e.g. the URL's host, safe to show
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class AlertRuleRow(Base):
    __tablename__ = "alert_rules"
    __table_args__ = NO_REUSE

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    spec: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(Text, default="{}")  # the incident state machine's IncidentState
    incident_id: Mapped[int | None] = mapped_column(default=None)  # the open (or last) incident
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class BudgetRow(Base):
    __tablename__ = "budgets"
    __table_args__ = NO_REUSE

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    spec: Mapped[str] = mapped_column(Text)
    period_start: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    notified: Mapped[str] = mapped_column(Text, default="[]")  # thresholds already announced this period
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class SloRow(Base):
    """An SLO (detectors.slo): its spec as the API's JSON, its alerts' state, and the random key its
    counts carry in ClickHouse (`slo_minute`), so an id reused after a delete never inherits them."""

    __tablename__ = "slos"
    __table_args__ = NO_REUSE

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    key: Mapped[int] = mapped_column(BigInteger)
    spec: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(Text, default="{}")  # backfill mark, burn alerts' incident states
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class IncidentRow(Base):
    __tablename__ = "incidents"
    __table_args__ = NO_REUSE

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    rule_id: Mapped[int | None] = mapped_column(default=None, index=True)
    budget_id: Mapped[int | None] = mapped_column(default=None, index=True)
    title: Mapped[str] = mapped_column(String(300))
    severity: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    value: Mapped[float | None] = mapped_column(default=None)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    firing_since: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    silenced_until: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class IncidentEventRow(Base):
    """The incident's timeline: pending, firing, notified, acknowledged, silenced, resolved."""

    __tablename__ = "incident_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    kind: Mapped[str] = mapped_column(String(32))
    value: Mapped[float | None] = mapped_column(default=None)
    note: Mapped[str] = mapped_column(Text, default="")


class DeliveryRow(Base):
    """One notification to one channel, with its final status after retries."""

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    incident_id: Mapped[int | None] = mapped_column(default=None, index=True)
    channel_id: Mapped[int] = mapped_column(index=True)
    event: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | sent | failed
    http_status: Mapped[int | None] = mapped_column(default=None)
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)


class GuardRow(Base):
    """A guard (circuit breaker): its spec as API JSON, and the state the alerts detector keeps.

    The state holds the last reading and `evaluated_at` the tick that wrote it, so an answer can say
    how fresh it is; the status endpoint reads these rows into memory, never once per call.
    """

    __tablename__ = "guards"
    __table_args__ = NO_REUSE

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    spec: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(Text, default="{}")  # guard_rules.GuardState as JSON
    incident_id: Mapped[int | None] = mapped_column(default=None)  # the open (or last) incident
    evaluated_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
