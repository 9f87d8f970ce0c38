"""The compose profile `monitoring` read statically (these machines have no Docker engine): Prometheus
scrapes the dashboard's /metrics with the token the compose secret mounts, Grafana's provisioning
points at that Prometheus and loads the dashboard from where compose mounts it, and every file a
service mounts is in the repository. That the PromQL names only series /metrics exposes is held
against a live scrape in tests/integration/test_prometheus.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from dashboard.prometheus.endpoint import METRICS_PATH
from llmpulse.config import Settings

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def mounts(service: dict[str, Any]) -> dict[str, Path]:
    """Container path → repository file of each bind mount (`./…:/…[:ro]`)."""
    found = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("./"):
            found[target] = REPO / source
    return found


def in_container(service: dict[str, Any], path: str) -> Path:
    """The repository file a container path of `service` is, through its bind mounts."""
    for target, source in mounts(service).items():
        if path == target or path.startswith(target + "/"):
            return source / path[len(target):].lstrip("/") if path != target else source
    raise AssertionError(f"{path} is mounted from no repository file")


def test_monitoring_is_an_optional_profile_and_every_mounted_file_exists(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["prometheus"]["profiles"] == ["monitoring"] == services["grafana"]["profiles"]
    assert not any("profiles" in svc for name, svc in services.items() if name not in ("prometheus", "grafana"))
    for name in ("prometheus", "grafana"):
        for target, source in mounts(services[name]).items():
            assert source.exists(), f"{name} mounts {source} at {target}, which is not in the repository"
        assert all(volume in compose["volumes"] for volume in
                   (v.split(":")[0] for v in services[name]["volumes"] if not v.startswith("./")))


def test_prometheus_scrapes_the_dashboard_with_the_mounted_token(compose: dict[str, Any]) -> None:
    prometheus = compose["services"]["prometheus"]
    config_path = next(arg.split("=", 1)[1] for arg in prometheus["command"] if arg.startswith("--config.file="))
    config = yaml.safe_load(in_container(prometheus, config_path).read_text())
    (job,) = config["scrape_configs"]
    assert job["metrics_path"] == METRICS_PATH
    assert job["static_configs"] == [{"targets": [f"dashboard:{Settings().ui_port}"]}]
    assert "dashboard" in compose["services"] and compose["services"]["dashboard"]["ports"] == ["8050:8050"]
    (secret,) = prometheus["secrets"]
    assert job["authorization"] == {"type": "Bearer", "credentials_file": f"/run/secrets/{secret}"}
    assert compose["secrets"][secret]["file"].endswith("deploy/prometheus/llmpulse.token}")
    assert "deploy/prometheus/llmpulse.token" in (REPO / ".gitignore").read_text()  # a secret never committed
    for rules in config["rule_files"]:
        groups = yaml.safe_load(in_container(prometheus, rules).read_text())["groups"]
        assert all(rule["alert"] and rule["expr"] for group in groups for rule in group["rules"])


def test_grafana_uses_that_prometheus_and_loads_the_dashboard(compose: dict[str, Any]) -> None:
    grafana, prometheus = compose["services"]["grafana"], compose["services"]["prometheus"]
    provisioning = in_container(grafana, "/etc/grafana/provisioning")
    (source,) = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())["datasources"]
    assert source["type"] == "prometheus" and source["url"] == "http://prometheus:9090"
    assert prometheus["ports"] == ["9090:9090"]
    (provider,) = yaml.safe_load((provisioning / "dashboards" / "llmpulse.yml").read_text())["providers"]
    dashboard_file = in_container(grafana, provider["options"]["path"] + "/llmpulse.json")
    assert dashboard_file == REPO / "deploy" / "grafana" / "llmpulse.json"
    assert grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"].startswith(provider["options"]["path"])
    dashboard = json.loads(dashboard_file.read_text())
    assert dashboard["uid"] == "llmpulse"
    datasource = next(v for v in dashboard["templating"]["list"] if v["name"] == "datasource")
    assert datasource["type"] == "datasource" and datasource["query"] == source["type"]
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert panels and all(t["expr"] and p["datasource"]["uid"] == "${datasource}" for p in panels for t in p["targets"])
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
