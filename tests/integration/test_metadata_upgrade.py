"""A metadata DB created by an older release gains the columns added since (create_all alone never
alters a table), on SQLite and on PostgreSQL, keeping its rows; migrating again changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy
from sqlalchemy import Column, DateTime, Float, Integer, MetaData, String, Table, inspect
from sqlalchemy.engine import Engine

from schemas.metadata.alert_store import AlertStore
from schemas.metadata.models import PREFER_COMPUTED, PREFER_REPORTED, Base
from schemas.metadata.secrets import SecretBox
from schemas.metadata.store import Metadata
from schemas.metadata.upgrade import add_missing_columns
from tests.metadata_db import postgres_schema


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        yield sqlalchemy.create_engine(f"sqlite:///{tmp_path / 'meta.db'}")
        return
    with postgres_schema() as engine:
        yield engine


def _create_old_projects_table(engine: Engine) -> None:
    """The projects table as releases before cost_preference created it, with one project in it."""
    old = MetaData()
    projects = Table("projects", old, Column("id", Integer, primary_key=True), Column("name", String(64), unique=True),
                     Column("created_at", DateTime), Column("eval_sample_rate", Float),
                     Column("retention_days", Integer))
    old.create_all(engine)
    with engine.begin() as conn:
        conn.execute(projects.insert().values(name="checkout", created_at=datetime(2026, 11, 1),
                                              eval_sample_rate=0.25, retention_days=14))


def test_an_old_database_gains_cost_preference_and_keeps_its_projects(empty_engine: Engine) -> None:
    _create_old_projects_table(empty_engine)
    meta = Metadata(empty_engine)
    meta.migrate()
    assert "cost_preference" in {c["name"] for c in inspect(empty_engine).get_columns("projects")}
    project = meta.require_project("checkout")
    assert (project.eval_sample_rate, project.retention_days, project.cost_preference) == (0.25, 14, PREFER_COMPUTED)
    meta.update_project("checkout", cost_preference=PREFER_REPORTED)
    assert meta.projects_preferring_reported() == ["checkout"]
    meta.migrate()  # idempotent: nothing left to add
    assert add_missing_columns(empty_engine, Base.metadata) == []
    assert meta.require_project("checkout").cost_preference == PREFER_REPORTED


def test_a_new_column_that_cannot_be_added_is_refused_with_what_to_do(empty_engine: Engine) -> None:
    _create_old_projects_table(empty_engine)
    newer = MetaData()
    Table("projects", newer, Column("id", Integer, primary_key=True), Column("owner", String(64), nullable=False))
    with pytest.raises(RuntimeError, match="make it nullable or give it a server_default"):
        add_missing_columns(empty_engine, newer)


def test_a_fresh_database_has_the_column_from_create_all(metadata: Metadata) -> None:
    project = metadata.require_project("default")
    assert project.cost_preference == PREFER_COMPUTED and project.created_at <= datetime.now(UTC)


def test_a_deleted_rules_id_is_never_given_to_a_new_one(metadata: Metadata) -> None:
    """An incident keeps its rule's id after the rule is deleted: a newer rule must not take it
    (SQLite reuses the highest freed id unless the table is AUTOINCREMENT)."""
    alerts = AlertStore(metadata, SecretBox("test-key"))
    spec = {"name": "r", "metric": "error_rate", "comparator": ">", "threshold": 0.5, "window": "5m"}
    first = alerts.create_rule("default", spec)
    incident = alerts.open_incident("default", "r", "warning", datetime(2026, 12, 1, tzinfo=UTC), rule_id=first)
    assert alerts.delete_rule("default", first)
    assert alerts.create_rule("default", spec) != first
    channel = alerts.create_channel("default", "webhook", "hook", {"url": "http://127.0.0.1:9"}, "127.0.0.1")
    assert alerts.delete_channel("default", channel)
    assert alerts.create_channel("default", "webhook", "hook", {"url": "http://127.0.0.1:9"}, "127.0.0.1") != channel
    assert alerts.get_incident("default", incident)["rule_id"] == first
