"""Embedded chDB is tuned to keep the process small: vertical merges, and memory handed back."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import Running

# chDB's jemalloc reads its options once, when the library loads: so in a fresh interpreter.
_CONNECT = """
import os, sys
from schemas.store import connect
connect("chdb:///" + sys.argv[1], 16, "dirty_decay_ms:0,muzzy_decay_ms:0").command("SELECT 1")
print(os.environ["JE_MALLOC_CONF"])
"""


def test_embedded_tables_merge_vertically(running: Running) -> None:
    store = running.service.store
    ddl = store.client.command(f"SHOW CREATE TABLE {store.table('spans')}")
    assert "vertical_merge_algorithm_min_rows_to_activate = 1" in str(ddl).replace("\\n", " ")


def test_releasing_memory_leaves_the_service_working(running: Running) -> None:
    running.service.release_memory()
    assert running.service.ready()


def test_the_allocator_options_are_in_place_before_chdb_loads(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", _CONNECT, str(tmp_path / "ch")], capture_output=True, text=True,
                          timeout=120, check=False, env={"PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "dirty_decay_ms:0,muzzy_decay_ms:0"
