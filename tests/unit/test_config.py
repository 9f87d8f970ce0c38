"""The config module: precise errors, precedence, and a README that lists every setting."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from llmpulse.config import (
    SPECS,
    ConfigError,
    Settings,
    is_loopback,
    load_settings,
    unknown_variables,
)
from schemas.clickhouse.store import chdb_path

README = Path(__file__).resolve().parents[2] / "README.md"


def test_defaults_and_derived_values() -> None:
    settings = load_settings({})
    assert settings == Settings()
    assert settings.resolved_clickhouse_dsn.startswith("chdb://") and settings.embedded
    assert settings.resolved_metadata_url.startswith("sqlite:///")
    assert not settings.require_key


def test_environment_then_flags() -> None:
    env = {"LLMPULSE_OTLP_PORT": "5000", "LLMPULSE_SPOOL_FSYNC": "yes", "LLMPULSE_HOST": "0.0.0.0"}
    settings = load_settings(env, {"otlp_port": 6000, "ui_port": None})
    assert settings.otlp_port == 6000 and settings.ui_port == 8050
    assert settings.spool_fsync is True
    assert settings.require_key


@pytest.mark.parametrize(("env", "message"), [
    ({"LLMPULSE_OTLP_PORT": "http"}, "LLMPULSE_OTLP_PORT has the value 'http'"),
    ({"LLMPULSE_UI_PORT": "70000"}, "port number from 0 to 65535"),
    ({"LLMPULSE_SPOOL_FSYNC": "maybe"}, "expected true/false"),
    ({"LLMPULSE_BATCH_ROWS": "-1"}, "above 0"),
    ({"LLMPULSE_MAX_TOKENS_PER_CALL": "2000000000"}, "at most 1,000,000,000"),
])
def test_bad_values_name_the_setting(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(env)


def test_loopback_detection() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.1.2.3")


def test_readme_lists_every_setting_with_its_variable_and_default() -> None:
    text = README.read_text()
    assert [s.name for s in SPECS] == [f.name for f in fields(Settings)]
    for spec in SPECS:
        row = next((line for line in text.splitlines() if line.startswith(f"| {spec.name} |")), None)
        assert row is not None, f"README settings table lacks {spec.name}"
        assert f"`{spec.env}`" in row
        assert (f"`{spec.default}`" if spec.default != "" else "(empty)") in row


def test_unknown_llmpulse_variables_are_named_with_the_setting_meant() -> None:
    env = {"LLMPULSE_PUBLIC_URI": "http://x", "LLMPULSE_FROBNICATE": "1", "LLMPULSE_UI_PORT": "9000",
           "LLMPULSE_VENV": "/tmp/venv", "LLMPULSE_URL": "http://127.0.0.1:8050",
           "LLMPULSE_TOKEN": "lpt_x", "PATH": "/bin"}
    assert unknown_variables(env) == [
        "LLMPULSE_FROBNICATE is not an llmpulse setting and is ignored; `llmpulse --help` and the README "
        "list the settings",
        "LLMPULSE_PUBLIC_URI is not an llmpulse setting and is ignored; did you mean LLMPULSE_PUBLIC_URL?",
    ]
    assert load_settings(env).public_url == ""  # ignored, not guessed


@pytest.mark.parametrize("name", ["team #2", "50% sample", "a b", "what?"])
def test_data_directory_urls_name_the_directory_itself(tmp_path: Path, name: str) -> None:
    data_dir = tmp_path / name
    settings = Settings(data_dir=data_dir, clickhouse_dsn="http://clickhouse:8123/llmpulse")
    assert make_url(settings.resolved_metadata_url).database == str(data_dir / "meta.db")
    if "?" not in name:
        assert chdb_path(Settings(data_dir=data_dir).resolved_clickhouse_dsn) == str(data_dir / "clickhouse")


def test_embedded_storage_refuses_a_data_directory_chdb_cannot_open() -> None:
    with pytest.raises(ConfigError, match=r"contains a '\?', which embedded ClickHouse \(chDB\) cannot open"):
        load_settings({"LLMPULSE_DATA_DIR": "/srv/what?/data"})
    server = load_settings({"LLMPULSE_DATA_DIR": "/srv/what?/data", "LLMPULSE_CLICKHOUSE_DSN": "http://ch:8123/x"})
    assert not server.embedded  # only the spool and SQLite live there, and both can


def test_a_chdb_dsn_with_a_raw_hash_is_refused_not_cut_short() -> None:
    with pytest.raises(ValueError, match="write it as %23"):
        chdb_path("chdb:///srv/team#2/clickhouse")
