"""Which key a request carries, and which project (and key id) it maps to."""

from __future__ import annotations

import base64

import pytest

from collector.auth import KeyAuth, Sender, key_from_headers
from collector.errors import Unauthorized


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(("headers", "key"), [
    ({"Authorization": "Bearer lp_abc"}, "lp_abc"),
    ({"authorization": "bearer  lp_abc "}, "lp_abc"),
    ({"x-llmpulse-key": "lp_xyz"}, "lp_xyz"),
    ({"Authorization": basic("pk-lf-1", "lp_secret")}, "lp_secret"),  # Langfuse exporter
    ({"Authorization": basic("pk-lf-1", "sk-lf-2")}, None),  # a Langfuse key is not ours
    ({"Authorization": "Basic %%%"}, None),
    ({"Authorization": "Bearer "}, None),
    ({}, None),
])
def test_key_from_headers(headers: dict[str, str], key: str | None) -> None:
    assert key_from_headers(headers) == key


def test_default_project_only_when_keys_are_optional() -> None:
    keys = {"lp_good": ("acme", 7)}
    lookups: list[str] = []

    def resolve(key: str) -> tuple[str, int] | None:
        lookups.append(key)
        return keys.get(key)

    open_auth = KeyAuth(resolve, require_key=False)
    assert open_auth.project_for({}) == "default"
    assert open_auth.sender_for({}) == Sender("default", "")  # no key: no key id on its spans
    assert open_auth.project_for({"Authorization": "Bearer lp_good"}) == "acme"
    assert open_auth.sender_for({"Authorization": "Bearer lp_good"}) == Sender("acme", "7")
    assert lookups == ["lp_good"]  # cached
    with pytest.raises(Unauthorized, match="unknown or revoked"):
        open_auth.project_for({"Authorization": "Bearer lp_bad"})
    with pytest.raises(Unauthorized, match="llmpulse keys create"):
        KeyAuth(resolve, require_key=True).project_for({})


def test_an_api_token_sent_to_the_collector_is_named_and_never_looked_up() -> None:
    lookups: list[str] = []
    auth = KeyAuth(lambda key: lookups.append(key) or ("acme", 1), require_key=False)
    with pytest.raises(Unauthorized, match=r"this is an API token \(lpt_…\).*llmpulse keys create"):
        auth.project_for({"Authorization": "Bearer lpt_secret"})
    assert lookups == []
