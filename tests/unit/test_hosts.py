"""Which Host names the UI and the collector serve (DNS rebinding) and what a foreign Origin is."""

from __future__ import annotations

from dataclasses import replace

import pytest

from llmpulse.config import Settings
from llmpulse.hosts import host_policy, otlp_host_policy
from schemas.hosts import hostname, is_foreign_origin


@pytest.mark.parametrize(("header", "name"), [
    ("127.0.0.1:8050", "127.0.0.1"), ("[::1]:8050", "::1"), ("Example.COM.:443", "example.com"),
    ("localhost", "localhost"), ("[::1", ""), ("", ""),
])
def test_hostname(header: str, name: str) -> None:
    assert hostname(header) == name


def test_on_loopback_only_local_names_the_public_url_and_allowed_hosts() -> None:
    loopback = Settings(public_url="https://pulse.example.com/", allowed_hosts="a.example, B.example")
    policy = host_policy(loopback)
    allowed = ["127.0.0.1:8050", "127.1.2.3", "localhost:8050", "app.localhost", "[::1]:8050",
               "pulse.example.com", "a.example:8050", "b.example"]
    assert all(policy.allows_host(h) for h in allowed)
    refused = ["attacker.example:8050", "localhost.attacker.example", "10.0.0.1:8050", "", "[::1"]
    assert not any(policy.allows_host(h) for h in refused)
    assert not host_policy(Settings()).allows_host("pulse.example.com")


def test_off_loopback_any_host_unless_allowed_hosts_is_set() -> None:
    exposed = Settings(host="0.0.0.0")
    assert host_policy(exposed).allows_host("attacker.example")
    listed = host_policy(replace(exposed, allowed_hosts="pulse.internal:8050"))
    assert listed.allows_host("pulse.internal:8050") and not listed.allows_host("attacker.example")


def test_the_collector_checks_hosts_only_on_loopback() -> None:
    assert not otlp_host_policy(Settings()).allows_host("attacker.example:4318")
    assert otlp_host_policy(Settings()).allows_host("localhost:4318")
    assert otlp_host_policy(Settings(host="0.0.0.0")).allows_host("collector.svc:4318")


@pytest.mark.parametrize(("origin", "foreign"), [
    (None, False), ("", False), ("http://127.0.0.1:8050", False), ("http://127.0.0.1:8050/alerts", False),
    ("http://localhost:8050", True), ("http://attacker.example", True), ("null", True), ("http://[::1", True),
])
def test_foreign_origin(origin: str | None, foreign: bool) -> None:
    assert is_foreign_origin(origin, "127.0.0.1:8050") is foreign
