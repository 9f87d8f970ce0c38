"""The command line, run as a user runs it (a subprocess per command)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def llmpulse(data_dir: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "llmpulse.cli", "--data-dir", str(data_dir), *args],
        capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})},
    )


def test_migrate_is_idempotent(tmp_path: Path) -> None:
    first = llmpulse(tmp_path, "migrate")
    assert first.returncode == 0, first.stderr
    assert "0001_spans.sql" in first.stdout
    again = llmpulse(tmp_path, "migrate")
    assert again.returncode == 0 and "up to date" in again.stdout


@pytest.mark.parametrize("name", ["team #2", "50% sample", "a b"])
def test_a_data_directory_with_url_characters_keeps_all_its_data(tmp_path: Path, name: str) -> None:
    """Its path goes into chDB's and SQLite's URLs: a '#' once cut chDB's path short, so the
    engine's files went to another directory, shared by every directory named alike."""
    data_dir = tmp_path / name / "data"
    done = llmpulse(data_dir, "migrate")
    assert done.returncode == 0, done.stderr
    assert (data_dir / "clickhouse" / "metadata").is_dir() and (data_dir / "meta.db").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # nothing written beside it


def test_a_data_directory_chdb_cannot_open_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    done = llmpulse(tmp_path / "what?" / "data", "migrate")
    assert done.returncode == 2 and "contains a '?', which embedded ClickHouse (chDB) cannot open" in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_keys_create_list_revoke(tmp_path: Path) -> None:
    created = llmpulse(tmp_path, "keys", "create", "--project", "acme", "--name", "ci")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert key.startswith("lp_") and "shown only once" in created.stderr
    listed = llmpulse(tmp_path, "keys", "list").stdout
    assert "acme" in listed and key not in listed and "active" in listed
    assert llmpulse(tmp_path, "keys", "revoke", "1").returncode == 0
    assert "revoked" in llmpulse(tmp_path, "keys", "list").stdout
    missing = llmpulse(tmp_path, "keys", "revoke", "99")
    assert missing.returncode == 1 and "no active key with id 99" in missing.stderr
    bad = llmpulse(tmp_path, "keys", "create", "--project", "Bad Name")
    assert bad.returncode == 1 and "invalid project name" in bad.stderr


def test_price_overrides(tmp_path: Path) -> None:
    added = llmpulse(tmp_path, "prices", "add", "--model", "ft:gpt-4o-mini:acme:*", "--input", "0.3",
                     "--output", "1.2", "--valid-from", "2026-01-01T00:00:00Z")
    assert added.returncode == 0, added.stderr
    listed = llmpulse(tmp_path, "prices", "list").stdout
    assert "ft:gpt-4o-mini:acme:*" in listed and "0.3" in listed
    bad = llmpulse(tmp_path, "prices", "add", "--model", "x", "--input", "cheap", "--output", "1")
    assert bad.returncode == 2 and "'cheap' is not an amount in USD" in bad.stderr
    negative = llmpulse(tmp_path, "prices", "add", "--model", "x", "--input", "-1", "--output", "1")
    assert negative.returncode == 2 and "cannot be negative" in negative.stderr


def test_bad_setting_stops_with_a_message_naming_it(tmp_path: Path) -> None:
    result = llmpulse(tmp_path, "migrate", env={"LLMPULSE_OTLP_PORT": "http"})
    assert result.returncode == 2
    assert "LLMPULSE_OTLP_PORT has the value 'http'" in result.stderr


def test_detect_runs_detectors_and_refuses_unknown_names(tmp_path: Path) -> None:
    ran = llmpulse(tmp_path, "detect", "metrics")
    assert ran.returncode == 0, ran.stderr
    outcome = json.loads(ran.stdout.strip().splitlines()[-1])
    assert outcome["detector"] == "metrics" and outcome["outcome"] == "ok"
    unknown = llmpulse(tmp_path, "detect", "nope")
    assert unknown.returncode == 2 and "unknown detector nope" in unknown.stderr


def test_rules_add_list_delete_with_validation(tmp_path: Path) -> None:
    added = llmpulse(tmp_path, "rules", "add", "--name", "slow", "--metric", "latency_p95_ms", "--threshold", "2000",
                     "--window", "15m", "--filter", "model=gpt-4o")
    assert added.returncode == 0, added.stderr
    rule_id = added.stdout.strip()
    listed = [json.loads(line) for line in llmpulse(tmp_path, "rules", "list").stdout.splitlines()]
    assert [(r["id"], r["metric"], r["filters"]) for r in listed] == [(int(rule_id), "latency_p95_ms",
                                                                        {"model": "gpt-4o"})]
    bad = llmpulse(tmp_path, "rules", "add", "--name", "x", "--metric", "vibes", "--threshold", "1")
    assert bad.returncode == 2 and "unknown metric 'vibes'" in bad.stderr
    assert llmpulse(tmp_path, "rules", "delete", rule_id).returncode == 0
    assert llmpulse(tmp_path, "rules", "delete", rule_id).returncode == 1


@pytest.mark.parametrize("command", [
    ("users", "add", "ada", "--role", "admin", "--password", "correct horse battery"),
    ("users", "list"), ("keys", "list"), ("prices", "list"), ("rules", "list"),
])
def test_metadata_commands_prepare_a_data_directory_that_does_not_exist(tmp_path: Path,
                                                                        command: tuple[str, ...]) -> None:
    """They once failed with a raw OperationalError: SQLite cannot create meta.db in a missing directory."""
    data_dir = tmp_path / "new" / "data"
    done = llmpulse(data_dir, *command)
    assert done.returncode == 0, done.stderr
    assert (data_dir / "meta.db").is_file() and "Error" not in done.stderr


def test_users_delete_set_role_and_passwd(tmp_path: Path) -> None:
    assert llmpulse(tmp_path, "users", "add", "vic", "--password", "viewer password 1").returncode == 0
    promoted = llmpulse(tmp_path, "users", "set-role", "vic", "admin")
    assert promoted.returncode == 0 and "now admin" in promoted.stdout
    assert llmpulse(tmp_path, "users", "list").stdout.split() == ["vic", "admin"]
    changed = llmpulse(tmp_path, "users", "passwd", "vic", "--password", "a brand new password")
    assert changed.returncode == 0 and "sessions are ended" in changed.stdout
    short = llmpulse(tmp_path, "users", "passwd", "vic", "--password", "short")
    assert short.returncode == 1 and "at least 10 characters" in short.stderr
    assert llmpulse(tmp_path, "users", "delete", "vic").returncode == 0
    assert llmpulse(tmp_path, "users", "list").stdout == ""
    missing = llmpulse(tmp_path, "users", "delete", "vic")
    assert missing.returncode == 1 and "no user 'vic'" in missing.stderr
    unknown = llmpulse(tmp_path, "users", "set-role", "nobody", "viewer")
    assert unknown.returncode == 1 and "no user 'nobody'" in unknown.stderr
