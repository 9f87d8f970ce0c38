"""SQLAlchemy models of the metadata DB (SQLite embedded, PostgreSQL in server mode)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import DateTime, ForeignKey, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

DEFAULT_PROJECT = "default"
# Which cost of a call counts when its app reports one (collector/pricing.py). Ours by default:
# many instrumentations compute their "reported" cost from their own, often stale, price tables;
# a project that sends negotiated prices (as Langfuse users do) chooses "reported".
PREFER_COMPUTED = "computed"
PREFER_REPORTED = "reported"
COST_PREFERENCES = (PREFER_COMPUTED, PREFER_REPORTED)


class UtcDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, returns aware UTC: SQLite keeps no time zone, PostgreSQL would shift it."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    eval_sample_rate: Mapped[float] = mapped_column(default=0.1)
    retention_days: Mapped[int] = mapped_column(default=30)
    # Added after the first release: the server default lets `add_missing_columns` add it to old DBs.
    cost_preference: Mapped[str] = mapped_column(String(16), default=PREFER_COMPUTED, server_default=PREFER_COMPUTED)
    # JSON list of the attribute keys A/B comparisons are rolled up by; NULL: the defaults (schemas.cohort_keys).
    cohort_keys: Mapped[str | None] = mapped_column(Text, default=None)


class IngestKey(Base):
    """An ingest key; only its SHA-256 is stored, the key itself is shown once."""

    __tablename__ = "ingest_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128), default="")
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)


class PriceOverrideRow(Base):
    """A project's own price for models matching a glob pattern, effective from `valid_from`."""

    __tablename__ = "price_overrides"
    __table_args__ = (UniqueConstraint("project_id", "model_pattern", "provider", "valid_from"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    model_pattern: Mapped[str] = mapped_column(String(256))
    provider: Mapped[str] = mapped_column(String(64), default="")
    input_per_mtok: Mapped[Decimal] = mapped_column(Numeric(24, 12))
    output_per_mtok: Mapped[Decimal] = mapped_column(Numeric(24, 12))
    cache_read_per_mtok: Mapped[Decimal | None] = mapped_column(Numeric(24, 12), default=None)
    cache_write_per_mtok: Mapped[Decimal | None] = mapped_column(Numeric(24, 12), default=None)
    valid_from: Mapped[datetime] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class User(Base):
    """A local user of the UI; only a salted scrypt hash of the password is stored."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))  # viewer | admin
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
