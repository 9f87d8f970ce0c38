"""Embedded chDB is tuned to keep the process small: vertical merges, and memory handed back."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from schemas.clickhouse import store as store_module
from schemas.clickhouse.store import READ_SPILL_BYTES, Store
from tests.conftest import Running
from tests.spans import Call

# chDB's jemalloc reads its options once, when the library loads: so in a fresh interpreter.
_CONNECT = """
import os, sys
from schemas.clickhouse.store import connect
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


def test_embedded_reads_carry_the_spill_thresholds_and_server_reads_do_not(running: Running) -> None:
    sql = "SELECT getSetting('max_bytes_before_external_group_by'), getSetting('max_bytes_before_external_sort')"
    embedded = running.service.store
    assert embedded.query(sql, {}, "test") == [(READ_SPILL_BYTES, READ_SPILL_BYTES)]
    assert list(embedded.query_dicts(sql, {}, "test")[0].values()) == [READ_SPILL_BYTES, READ_SPILL_BYTES]
    server = Store(embedded.client, embedded.database, embedded=False)  # a ClickHouse server sizes its own
    assert server.query(sql, {}, "test") != [(READ_SPILL_BYTES, READ_SPILL_BYTES)]


def test_detectors_read_with_one_thread_in_embedded_mode_and_the_ui_does_not(running: Running) -> None:
    sql = "SELECT getSetting('max_threads')"
    detectors_store = running.service.detector_runner.store
    assert detectors_store.query(sql, {}, "test") == [(1,)]
    assert detectors_store.client is running.service.store.client
    assert running.service.store.query(sql, {}, "test") != [(1,)]  # the UI's reads: every core
    server = Store(detectors_store.client, detectors_store.database, embedded=False).background()
    assert server.query(sql, {}, "test") != [(1,)]


def test_a_summary_spilled_to_disk_equals_the_one_made_in_memory(running: Running,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Past READ_SPILL_BYTES the calls' twin-collapsing GROUP BY spills; here it spills at once."""
    start = int((datetime.now(UTC) - timedelta(minutes=30)).timestamp() * 1e9)
    calls = []
    for t in range(1, 91):  # two models, errors, and a twin of every tenth call (same response id)
        model = "gpt-4o" if t % 3 else "gpt-4o-mini"
        calls.append(Call(700 + t, 1, start_ns=start + t * 10**7, duration_ms=40.0 + 3 * t, model=model,
                          user=f"u{t % 4}", response_id=f"s{t}", error=t % 7 == 0, ttft_ms=10.0 + t))
        if t % 10 == 0:
            calls.append(Call(700 + t, 2, start_ns=start + t * 10**7 + 10**6, duration_ms=40.0 + 3 * t,
                              model=model, user=f"u{t % 4}", response_id=f"s{t}"))
    running.send_calls(*calls)
    now = datetime.now(UTC)
    window = {"from": (now - timedelta(hours=1)).isoformat(), "to": now.isoformat(), "group_by": "model"}
    in_memory = running.get("/api/v1/metrics/summary", **window).json()
    assert in_memory["total"]["requests"] == 90 and in_memory["total"]["errors"] == 12

    monkeypatch.setattr(store_module, "EMBEDDED_READ_SETTINGS",
                        dict.fromkeys(store_module.EMBEDDED_READ_SETTINGS, 1))
    spilled = running.get("/api/v1/metrics/summary", **window).json()
    assert spilled == in_memory
