"""Metadata DB access: projects, ingest keys and price overrides, through SQLAlchemy 2."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import create_engine, event, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from schemas.metadata import (  # noqa: F401 (register their tables for create_all)
    alert_tables,
    dataset_tables,
    detector_tables,
    experiment_tables,
    ingest_reports,
    login_failures,
    regression_tables,
    sessions,
    tokens,
)
from schemas.metadata.models import DEFAULT_PROJECT, PREFER_REPORTED, Base, IngestKey, PriceOverrideRow, Project, utcnow
from schemas.metadata.upgrade import add_missing_columns

KEY_PREFIX = "lp_"
_PROJECT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


class MetadataError(ValueError):
    """Bad metadata input (unknown project, invalid name); the message says what to change."""


@dataclass(frozen=True)
class KeyInfo:
    id: int
    project: str
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True)
class NewKey:
    key: str
    info: KeyInfo


def hash_key(key: str) -> str:
    """Keys are 256-bit random, so a plain SHA-256 is as strong as a slow hash and costs microseconds."""
    return hashlib.sha256(key.encode()).hexdigest()


def create_metadata_engine(url: str) -> Engine:
    engine = create_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _configure_sqlite)
    return engine


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


class Metadata:
    """Projects, keys and price overrides; one instance per process, safe across threads."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def migrate(self) -> None:
        Base.metadata.create_all(self.engine)
        add_missing_columns(self.engine, Base.metadata)
        self.ensure_project(DEFAULT_PROJECT)

    def session(self) -> Session:
        return self._sessions()

    def ensure_project(self, name: str) -> Project:
        validate_project_name(name)
        with self.session() as db:
            found = db.scalar(select(Project).where(Project.name == name))
            if found:
                return found
            db.add(Project(name=name))
            try:
                db.commit()
            except IntegrityError:  # created concurrently by another process
                db.rollback()
            return db.scalars(select(Project).where(Project.name == name)).one()

    def get_project(self, name: str) -> Project | None:
        with self.session() as db:
            return db.scalar(select(Project).where(Project.name == name))

    def require_project(self, name: str) -> Project:
        project = self.get_project(name)
        if project is None:
            raise MetadataError(
                f"project {name!r} does not exist; create it with `llmpulse keys create --project {name}`"
            )
        return project

    def update_project(self, name: str, *, eval_sample_rate: float | None = None,
                       retention_days: int | None = None, cost_preference: str | None = None) -> Project:
        """Change a project's settings; values are validated by the caller (the API)."""
        with self.session() as db:
            project = db.scalar(select(Project).where(Project.name == name))
            if project is None:
                raise MetadataError(f"project {name!r} does not exist")
            if eval_sample_rate is not None:
                project.eval_sample_rate = eval_sample_rate
            if retention_days is not None:
                project.retention_days = retention_days
            if cost_preference is not None:
                project.cost_preference = cost_preference
            db.commit()
            return project

    def set_cohort_keys(self, name: str, stored: str | None) -> Project:
        """Store a project's declared cohort keys (`schemas.cohort_keys.stored_keys`; None: the defaults)."""
        with self.session() as db:
            project = db.scalar(select(Project).where(Project.name == name))
            if project is None:
                raise MetadataError(f"project {name!r} does not exist")
            project.cohort_keys = stored
            db.commit()
            return project

    def list_projects(self) -> list[Project]:
        with self.session() as db:
            return list(db.scalars(select(Project).order_by(Project.name)))

    def projects_preferring_reported(self) -> list[str]:
        """Names of the projects whose apps' reported costs win over our prices (read by ingest)."""
        with self.session() as db:
            return list(db.scalars(select(Project.name).where(Project.cost_preference == PREFER_REPORTED)))

    def create_key(self, project: str, name: str = "") -> NewKey:
        row_project = self.ensure_project(project)
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        row = IngestKey(project_id=row_project.id, name=name, prefix=key[:10], key_hash=hash_key(key))
        with self.session() as db:
            db.add(row)
            db.commit()
            return NewKey(key=key, info=_key_info(row, project))

    def resolve_key(self, key: str) -> str | None:
        """The project an active key belongs to, or None for an unknown or revoked key."""
        found = self.identify_key(key)
        return found[0] if found else None

    def identify_key(self, key: str) -> tuple[str, int] | None:
        """(project, key id) of an active key, or None for an unknown or revoked key: ingest records
        the id on each span (never the key), which budgets per ingest key group by."""
        with self.session() as db:
            stmt = (
                select(Project.name, IngestKey.id)
                .join(IngestKey, IngestKey.project_id == Project.id)
                .where(IngestKey.key_hash == hash_key(key), IngestKey.revoked_at.is_(None))
            )
            row = db.execute(stmt).first()
            return (str(row[0]), int(row[1])) if row else None

    def list_keys(self, project: str | None = None) -> list[KeyInfo]:
        with self.session() as db:
            stmt = select(IngestKey, Project.name).join(Project, IngestKey.project_id == Project.id)
            if project:
                stmt = stmt.where(Project.name == project)
            return [_key_info(k, p) for k, p in db.execute(stmt.order_by(IngestKey.id))]

    def revoke_key(self, key_id: int) -> bool:
        with self.session() as db:
            row = db.get(IngestKey, key_id)
            if row is None or row.revoked_at is not None:
                return False
            row.revoked_at = utcnow()
            db.commit()
            return True

    def add_price_override(self, project: str, model_pattern: str, input_per_mtok: Decimal,
                           output_per_mtok: Decimal, valid_from: datetime, provider: str = "",
                           cache_read_per_mtok: Decimal | None = None,
                           cache_write_per_mtok: Decimal | None = None) -> int:
        row_project = self.require_project(project)
        row = PriceOverrideRow(
            project_id=row_project.id, model_pattern=model_pattern, provider=provider,
            input_per_mtok=input_per_mtok, output_per_mtok=output_per_mtok,
            cache_read_per_mtok=cache_read_per_mtok, cache_write_per_mtok=cache_write_per_mtok,
            valid_from=valid_from,
        )
        with self.session() as db:
            db.add(row)
            db.commit()
            return row.id

    def list_price_overrides(self, project: str | None = None) -> list[dict[str, Any]]:
        """Plain dicts so that schemas/ need not know the collector's pricing types."""
        with self.session() as db:
            stmt = select(PriceOverrideRow, Project.name).join(Project)
            if project:
                stmt = stmt.where(Project.name == project)
            return [_override_dict(row, name) for row, name in db.execute(stmt.order_by(PriceOverrideRow.id))]

    def delete_price_override(self, override_id: int) -> bool:
        with self.session() as db:
            row = db.get(PriceOverrideRow, override_id)
            if row is None:
                return False
            db.delete(row)
            db.commit()
            return True


def validate_project_name(name: str) -> None:
    if not _PROJECT_NAME.match(name or ""):
        raise MetadataError(
            f"invalid project name {name!r}: use 1-64 lowercase letters, digits, '-' or '_', "
            "starting with a letter or digit"
        )


def _key_info(row: IngestKey, project: str) -> KeyInfo:
    return KeyInfo(row.id, project, row.name, row.prefix, row.created_at, row.revoked_at)


def _override_dict(row: PriceOverrideRow, project: str) -> dict[str, Any]:
    return {
        "id": row.id, "project_id": project, "model_pattern": row.model_pattern, "provider": row.provider,
        "input_per_mtok": row.input_per_mtok, "output_per_mtok": row.output_per_mtok,
        "cache_read_per_mtok": row.cache_read_per_mtok, "cache_write_per_mtok": row.cache_write_per_mtok,
        "valid_from": row.valid_from,
    }
