"""docker-compose.yml read against the code it deploys.

These machines have no Docker engine, so the stack itself is never started here; what can drift
silently is checked instead: a misspelt LLMPULSE_ variable (ignored by the service), a command
the CLI does not have, a port or health check that does not match what the service listens on,
a dependency on a service that does not exist.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from llmpulse.cli import main as cli
from llmpulse.config import SPECS, Settings, load_settings

REPO = Path(__file__).resolve().parents[2]
INTERPOLATION = re.compile(r"\$\{(\w+)(?::?-([^}]*))?\}")  # ${NAME:-default}, as compose substitutes it
PORTS = {"collector": Settings().otlp_port, "dashboard": Settings().ui_port}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def llmpulse_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The services built from this repository (the image whose entrypoint is `llmpulse`)."""
    return {name: svc for name, svc in compose["services"].items() if svc.get("build") == "."}


def environment(service: dict[str, Any]) -> dict[str, str]:
    """The service's variables as the container sees them, with unset ${…} taking their defaults."""
    return {key: INTERPOLATION.sub(lambda m: m.group(2) or "", str(value))
            for key, value in service.get("environment", {}).items()}


def test_every_part_of_server_mode_is_a_service_running_a_real_cli_command(compose: dict[str, Any]) -> None:
    services = llmpulse_services(compose)
    commands = {name: svc["command"][0] for name, svc in services.items()}
    assert set(commands.values()) == {"migrate", "collector", "dashboard", "detectors"}
    assert set(commands.values()) <= set(cli.commands)
    assert compose["services"]["detectors"]["deploy"]["replicas"] >= 2  # a standby takes the lease over


def test_llmpulse_variables_are_known_settings_with_valid_values(compose: dict[str, Any]) -> None:
    known = {spec.env for spec in SPECS}
    for name, service in llmpulse_services(compose).items():
        env = environment(service)
        unknown = sorted(key for key in env if key.startswith("LLMPULSE_") and key not in known)
        assert not unknown, f"{name}: the service ignores {unknown}"
        settings = load_settings(env)  # raises ConfigError on a bad value
        assert not settings.embedded, f"{name}: server mode must use the ClickHouse server"
        assert not settings.require_key or settings.host == "0.0.0.0"


def test_server_mode_points_at_the_compose_clickhouse_and_postgres(compose: dict[str, Any]) -> None:
    settings = load_settings(environment(compose["services"]["collector"]))
    clickhouse, postgres = compose["services"]["clickhouse"], compose["services"]["postgres"]
    assert settings.resolved_clickhouse_dsn.startswith("http://")
    assert "@clickhouse:8123/" in settings.resolved_clickhouse_dsn
    assert settings.clickhouse_dsn.rsplit("/", 1)[1] == clickhouse["environment"]["CLICKHOUSE_DB"]
    user, password = clickhouse["environment"]["CLICKHOUSE_USER"], clickhouse["environment"]["CLICKHOUSE_PASSWORD"]
    assert f"//{user}:{password}@" in settings.clickhouse_dsn
    pg = postgres["environment"]
    assert settings.metadata_url == (f"postgresql+psycopg://{pg['POSTGRES_USER']}:{pg['POSTGRES_PASSWORD']}"
                                     f"@postgres:5432/{pg['POSTGRES_DB']}")
    assert "[postgres]" in (REPO / "Dockerfile").read_text()  # the image installs psycopg


def test_published_ports_and_health_checks_match_what_each_part_serves(compose: dict[str, Any]) -> None:
    for name, port in PORTS.items():
        service = compose["services"][name]
        assert service["ports"] == [f"{port}:{port}"]
        probe = " ".join(service["healthcheck"]["test"])
        assert f"http://127.0.0.1:{port}/readyz" in probe, probe


def test_dependencies_exist_and_start_in_order(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on unknown {dependency}"
    assert services["migrate"]["depends_on"] == {
        "clickhouse": {"condition": "service_healthy"}, "postgres": {"condition": "service_healthy"}}
    for name in ("collector", "dashboard", "detectors"):
        assert services[name]["depends_on"] == {"migrate": {"condition": "service_completed_successfully"}}
    assert all("healthcheck" in services[name] for name in ("clickhouse", "postgres"))


def test_named_volumes_are_declared(compose: dict[str, Any]) -> None:
    """Bind mounts of repository files (the monitoring profile's configs, tests/unit/test_monitoring.py) aside."""
    used = {mount.split(":")[0] for svc in compose["services"].values() for mount in svc.get("volumes", [])
            if not mount.startswith("./")}
    assert used and used <= set(compose["volumes"])
    assert "collector-spool" in used  # acknowledged spans outlive a container restart
