"""API tokens against the real service bound off loopback: a token is its user's session on /api/v1."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import requests
from google.rpc import status_pb2

from schemas.metadata.models import utcnow
from schemas.metadata.tokens import TokenStore
from schemas.metadata.users import UserStore
from tests.conftest import Running, login_session, make_settings, start_service, wait_for
from tests.spans import PROTOBUF, Call, export_calls

ITEMS = [{"input": "capital of France?", "expected": "Paris"}]


def bearer(token: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **headers}


def call(running: Running, method: str, path: str, token: str, body: object = None,
         **headers: str) -> requests.Response:
    return requests.request(method, running.ui_url + "/api/v1" + path, json=body, headers=bearer(token, **headers),
                            timeout=30)


def test_an_admin_token_writes_without_an_origin_or_despite_a_foreign_one(exposed: Running) -> None:
    token = TokenStore(exposed.service.metadata).create("ada", "ci").token
    assert call(exposed, "POST", "/datasets", token, {"name": "golden"}).status_code == 201
    added = call(exposed, "POST", "/datasets/golden/items", token, ITEMS, Origin="http://ci.example")
    assert added.status_code == 201, added.text
    assert call(exposed, "GET", "/datasets/golden", token).json()["version"] == 1
    (info,) = TokenStore(exposed.service.metadata).list()
    assert info.last_used_at is not None


def test_a_viewer_token_reads_but_cannot_write(exposed: Running) -> None:
    token = TokenStore(exposed.service.metadata).create("vic").token
    assert call(exposed, "GET", "/traces", token).status_code == 200
    assert call(exposed, "GET", "/datasets", token).status_code == 200
    refused = call(exposed, "POST", "/datasets", token, {"name": "nope"})
    assert refused.status_code == 403 and "needs the admin role" in refused.json()["error"]
    assert call(exposed, "GET", "/datasets", token).json()["datasets"] == []


def test_revoked_expired_and_unknown_tokens_are_401_saying_which(exposed: Running) -> None:
    tokens = TokenStore(exposed.service.metadata)
    revoked, expired = tokens.create("ada"), tokens.create("ada", expires_days=1, now=utcnow() - timedelta(days=2))
    assert tokens.revoke(revoked.info.id)
    for token, word in ((revoked.token, "was revoked"), (expired.token, "has expired"),
                        ("lpt_never-issued", "is unknown"), ("not-even-a-token", "not an llmpulse API token")):
        answer = call(exposed, "GET", "/traces", token)
        assert answer.status_code == 401 and word in answer.json()["error"], (token, answer.text)
        assert "llmpulse tokens create --user NAME" in answer.json()["error"]


def test_a_bad_token_is_not_rescued_by_a_good_cookie(exposed: Running) -> None:
    admin = login_session(exposed.ui_url, "ada", "correct horse battery")
    assert admin.get(exposed.ui_url + "/api/v1/traces", timeout=10).status_code == 200
    answer = admin.get(exposed.ui_url + "/api/v1/traces", headers=bearer("lpt_forged"), timeout=10)
    assert answer.status_code == 401 and "unknown" in answer.json()["error"]


def test_the_wrong_kind_of_secret_is_refused_on_each_port_by_name(exposed: Running) -> None:
    key, token = exposed.service.metadata.create_key("default", "app").key, TokenStore(
        exposed.service.metadata).create("ada").token
    on_api = call(exposed, "GET", "/traces", key)
    assert on_api.status_code == 401 and "this is an ingest key (lp_…)" in on_api.json()["error"]
    on_otlp = exposed.post_otlp("/v1/traces", export_calls(Call(0xAB, 1)), {**PROTOBUF, **bearer(token)})
    assert on_otlp.status_code == 401
    assert "this is an API token (lpt_…)" in status_pb2.Status.FromString(on_otlp.content).message
    exposed.send_calls(Call(0xAB, 1), headers=bearer(key))  # each secret works on its own port
    assert call(exposed, "GET", "/traces", token).json()["total"] == 1


def test_tokens_do_not_open_the_pages(exposed: Running) -> None:
    token = TokenStore(exposed.service.metadata).create("ada").token
    page = requests.get(exposed.ui_url + "/settings", headers=bearer(token), allow_redirects=False, timeout=10)
    assert page.status_code == 302 and page.headers["Location"].startswith("/login")


def test_deleting_the_user_ends_their_token(exposed: Running) -> None:
    token = TokenStore(exposed.service.metadata).create("vic").token
    assert call(exposed, "GET", "/traces", token).status_code == 200
    UserStore(exposed.service.metadata).delete("vic")
    # a good verdict is cached for the role cache's seconds (2): wait for it to lapse, no longer
    wait_for(lambda: call(exposed, "GET", "/traces", token).status_code == 401, 5, "the token outlived its user")


def test_wrong_tokens_are_throttled_like_wrong_passwords(tmp_path: Path, chdb_dsn: str) -> None:
    """A 30 s first lock, so that no lock can end during the test."""
    exposed = start_service(make_settings(tmp_path, chdb_dsn, host="0.0.0.0", login_base_delay_seconds=30.0))
    try:
        UserStore(exposed.service.metadata).create("ada", "correct horse battery", "admin")
        good = TokenStore(exposed.service.metadata).create("ada").token
        answers = [call(exposed, "GET", "/traces", f"lpt_guess-{i}") for i in range(8)]
        assert [a.status_code for a in answers] == [401] * 6 + [429] * 2  # 5 free, the 6th locks
        assert 28 <= int(answers[-1].headers["Retry-After"]) <= 30
        assert "too many wrong API tokens" in answers[-1].json()["error"]
        assert call(exposed, "GET", "/traces", good).status_code == 429  # even the right token waits
        session = requests.Session()
        login = session.get(exposed.ui_url + "/login", timeout=10).text
        csrf = login.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        locked = session.post(exposed.ui_url + "/login", headers={"Origin": exposed.ui_url}, timeout=10,
                              data={"csrf": csrf, "username": "ada", "password": "correct horse battery"})
        assert locked.status_code == 429
    finally:
        exposed.service.stop()
