"""Embedded chDB is tuned to keep the process small: vertical merges, and memory handed back."""

from __future__ import annotations

from tests.conftest import Running


def test_embedded_tables_merge_vertically(running: Running) -> None:
    store = running.service.store
    ddl = store.client.command(f"SHOW CREATE TABLE {store.table('spans')}")
    assert "vertical_merge_algorithm_min_rows_to_activate = 1" in str(ddl).replace("\\n", " ")


def test_releasing_memory_leaves_the_service_working(running: Running) -> None:
    running.service.release_memory()
    assert running.service.ready()
