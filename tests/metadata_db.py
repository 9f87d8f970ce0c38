"""The `metadata` fixture: a migrated metadata DB on SQLite always, and on PostgreSQL when one answers
at 127.0.0.1:5432 (trust auth, database `test`), each test in a schema of its own."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy
from sqlalchemy import text
from sqlalchemy.engine import Engine

from schemas.metadata.store import Metadata, create_metadata_engine

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def postgres_reachable() -> bool:
    try:
        with sqlalchemy.create_engine(POSTGRES_URL, connect_args={"connect_timeout": 2}).connect():
            return True
    except Exception:
        return False


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def metadata(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Metadata]:
    if request.param == "sqlite":
        meta = Metadata(create_metadata_engine(f"sqlite:///{tmp_path / 'meta.db'}"))
        meta.migrate()
        yield meta
        return
    with postgres_schema() as engine:
        meta = Metadata(engine)
        meta.migrate()
        yield meta


@contextmanager
def postgres_schema() -> Iterator[Engine]:
    """An engine on a fresh PostgreSQL schema of its own, dropped afterwards; skips the test when
    PostgreSQL does not answer."""
    if not postgres_reachable():
        pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432")
    schema = f"lp_{uuid.uuid4().hex[:10]}"
    with sqlalchemy.create_engine(POSTGRES_URL).begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    engine = sqlalchemy.create_engine(POSTGRES_URL, connect_args={"options": f"-csearch_path={schema}"})
    try:
        yield engine
    finally:
        engine.dispose()
        with sqlalchemy.create_engine(POSTGRES_URL).begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
