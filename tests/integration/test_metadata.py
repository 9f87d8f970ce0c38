"""Projects, ingest keys and price overrides on SQLite always, and on PostgreSQL when one answers
at 127.0.0.1:5432 (trust auth, database `test`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text

from schemas.metadata.models import DEFAULT_PROJECT
from schemas.metadata.store import Metadata, MetadataError


def test_default_project_exists_and_migrate_is_idempotent(metadata: Metadata) -> None:
    metadata.migrate()
    assert [p.name for p in metadata.list_projects()] == [DEFAULT_PROJECT]


def test_keys_are_hashed_resolved_and_revocable(metadata: Metadata) -> None:
    new = metadata.create_key("acme", "ci")
    assert new.key.startswith("lp_") and len(new.key) > 40
    assert metadata.resolve_key(new.key) == "acme"
    assert metadata.identify_key(new.key) == ("acme", new.info.id)  # what ingest records: the id, not the key
    assert metadata.resolve_key(new.key + "x") is None and metadata.identify_key(new.key + "x") is None
    with metadata.engine.connect() as conn:
        stored = conn.execute(text("SELECT key_hash FROM ingest_keys")).scalars().all()
    assert new.key not in stored and len(stored[0]) == 64
    assert metadata.revoke_key(new.info.id)
    assert not metadata.revoke_key(new.info.id)
    assert metadata.resolve_key(new.key) is None and metadata.identify_key(new.key) is None
    assert metadata.list_keys("acme")[0].revoked_at is not None


def test_project_names_are_validated(metadata: Metadata) -> None:
    for bad in ("", "Has Space", "UPPER", "-leading", "x" * 65):
        with pytest.raises(MetadataError, match="invalid project name"):
            metadata.ensure_project(bad)


def test_price_overrides_round_trip_exactly(metadata: Metadata) -> None:
    when = datetime(2026, 1, 1, 12, tzinfo=UTC)
    metadata.ensure_project("acme")
    override_id = metadata.add_price_override(
        "acme", "ft:gpt-4o-mini:*", Decimal("0.300000000001"), Decimal("1.2"), when,
        cache_read_per_mtok=Decimal("0.15"),
    )
    rows = metadata.list_price_overrides("acme")
    assert rows[0]["id"] == override_id
    assert rows[0]["input_per_mtok"] == Decimal("0.300000000001")
    assert rows[0]["valid_from"] == when
    assert rows[0]["cache_write_per_mtok"] is None
    with pytest.raises(MetadataError, match="does not exist"):
        metadata.add_price_override("ghost", "*", Decimal(1), Decimal(1), when + timedelta(days=1))
    assert metadata.delete_price_override(override_id)
    assert metadata.list_price_overrides("acme") == []
