"""Login throttling, server-side sessions, and Host / Origin checks, against the real service.

Servers that need a login bind 0.0.0.0 and are reached through 127.0.0.1; the loopback ones
bind 127.0.0.1 (the `running` fixture). Nothing leaves this machine.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from schemas.metadata.users import UserStore
from tests.conftest import Running, login_session, make_settings, start_service, wait_for
from tests.spans import PROTOBUF, Call, export_calls

CHANNEL = {"type": "webhook", "name": "hook", "url": "http://127.0.0.1:9/hook"}


def post_login(client: requests.Session, ui_url: str, username: str, password: str) -> requests.Response:
    form = client.get(ui_url + "/login", timeout=10).text
    token = form.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    return client.post(ui_url + "/login", data={"csrf": token, "username": username, "password": password},
                       headers={"Origin": ui_url}, allow_redirects=False, timeout=10)


def copied(client: requests.Session) -> requests.Session:
    """Another client holding the same cookie, as an attacker who copied it would."""
    other = requests.Session()
    other.cookies.update(client.cookies)
    return other


# --- 13: throttling ---------------------------------------------------------------------------

def test_wrong_passwords_are_throttled_with_429_and_retry_after(tmp_path: Path, chdb_dsn: str,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    """A 30 s first lock, so that no lock can end during the test (the defaults' growth is unit-tested)."""
    caplog.set_level(logging.WARNING, logger="dashboard.throttle")
    exposed = start_service(make_settings(tmp_path, chdb_dsn, host="0.0.0.0", login_base_delay_seconds=30.0))
    try:
        UserStore(exposed.service.metadata).create("ada", "correct horse battery", "admin")
        UserStore(exposed.service.metadata).create("vic", "viewer password 1", "viewer")
        client = requests.Session()
        answers = [post_login(client, exposed.ui_url, "ada", f"wrong guess {i}") for i in range(40)]
        assert [a.status_code for a in answers] == [401] * 6 + [429] * 34  # 5 free, the 6th locks
        assert 28 <= int(answers[-1].headers["Retry-After"]) <= 30 and "Too many wrong passwords" in answers[-1].text
        right = post_login(client, exposed.ui_url, "ada", "correct horse battery")
        assert right.status_code == 429  # even the right password waits out the lock
        assert any("login throttled" in r.getMessage() and "'ada'" in r.getMessage() for r in caplog.records)
        other_user = post_login(requests.Session(), exposed.ui_url, "vic", "viewer password 1")
        assert other_user.status_code == 429  # this address is locked too
    finally:
        exposed.service.stop()


# --- 14: sessions -------------------------------------------------------------------------------

def test_logout_ends_the_session_on_the_server(exposed: Running) -> None:
    admin = login_session(exposed.ui_url, "ada", "correct horse battery")
    stolen = copied(admin)
    assert stolen.get(exposed.ui_url + "/api/v1/traces", timeout=10).status_code == 200
    admin.post(exposed.ui_url + "/logout", headers={"Origin": exposed.ui_url}, timeout=10)
    assert stolen.get(exposed.ui_url + "/api/v1/traces", timeout=10).status_code == 401


@pytest.mark.parametrize("change", ["delete", "set_role", "set_password"])
def test_deleting_or_changing_a_user_ends_their_sessions_within_seconds(exposed: Running, change: str) -> None:
    viewer = login_session(exposed.ui_url, "vic", "viewer password 1")
    assert viewer.get(exposed.ui_url + "/api/v1/traces", timeout=10).status_code == 200
    users = UserStore(exposed.service.metadata)
    {"delete": lambda: users.delete("vic"), "set_role": lambda: users.set_role("vic", "admin"),
     "set_password": lambda: users.set_password("vic", "a brand new password")}[change]()
    took = wait_for(lambda: viewer.get(exposed.ui_url + "/api/v1/traces", timeout=10).status_code == 401, 5,
                    f"vic's session still works after {change}", poll=0.05)
    assert took < 5
    assert viewer.post(exposed.ui_url + "/api/v1/alert-rules", json={}, timeout=10).status_code == 401


def test_users_delete_from_the_cli_logs_the_user_out_of_a_running_dashboard(exposed: Running) -> None:
    """Another process (the CLI) ends the sessions; this dashboard notices within its cache's seconds."""
    viewer = login_session(exposed.ui_url, "vic", "viewer password 1")
    assert viewer.get(exposed.ui_url + "/api/v1/traces", timeout=10).status_code == 200
    done = subprocess.run([sys.executable, "-m", "llmpulse.cli", "--data-dir", str(exposed.service.settings.data_dir),
                           "users", "delete", "vic"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    wait_for(lambda: viewer.get(exposed.ui_url + "/api/v1/traces", timeout=10).status_code == 401, 5,
             "the viewer deleted by the CLI still has a session", poll=0.05)


def test_the_role_comes_from_the_metadata_db_not_the_cookie(exposed: Running) -> None:
    """A role changed behind the session's back (no session ended) holds within the cache's seconds."""
    from sqlalchemy import update

    from schemas.metadata.models import User

    admin = login_session(exposed.ui_url, "ada", "correct horse battery")
    assert admin.get(exposed.ui_url + "/settings", timeout=10).status_code == 200
    with exposed.service.metadata.session() as db:
        db.execute(update(User).where(User.username == "ada").values(role="viewer"))
        db.commit()
    wait_for(lambda: admin.get(exposed.ui_url + "/settings", timeout=10).status_code == 403, 5,
             "the demoted admin still reaches the settings", poll=0.05)


# --- 15: Host and Origin ------------------------------------------------------------------------

def test_loopback_ui_refuses_foreign_hosts_and_origins(running: Running) -> None:
    port = running.ui_url.rsplit(":", 1)[1]
    rebound = requests.get(running.ui_url + "/api/v1/traces", headers={"Host": f"attacker.example:{port}"},
                           timeout=10)
    assert rebound.status_code == 421 and "attacker.example" in rebound.json()["error"]
    for name in ("localhost", "127.0.0.1", "app.localhost", "[::1]"):
        local = requests.get(running.ui_url + "/api/v1/traces", headers={"Host": f"{name}:{port}"}, timeout=10)
        assert local.status_code == 200, name
    health = requests.get(running.ui_url + "/healthz", headers={"Host": "attacker.example"}, timeout=10)
    assert health.status_code == 200
    forged = requests.post(running.ui_url + "/api/v1/channels", json=CHANNEL, timeout=10,
                           headers={"Origin": "http://attacker.example"})
    assert forged.status_code == 403
    assert running.service.alert_store.list_channels("default") == []
    same = requests.post(running.ui_url + "/api/v1/channels", json=CHANNEL, timeout=10,
                         headers={"Origin": running.ui_url})
    assert same.status_code == 201, same.text


def test_loopback_collector_refuses_foreign_hosts_and_origins(running: Running) -> None:
    body = export_calls(Call(trace=0xabc))
    port = running.otlp_url.rsplit(":", 1)[1]
    rebound = running.post_otlp("/v1/traces", body, {**PROTOBUF, "Host": f"attacker.example:{port}"})
    assert rebound.status_code == 421
    foreign = running.post_otlp("/v1/traces", body, {**PROTOBUF, "Origin": "http://attacker.example"})
    assert foreign.status_code == 403
    running.send(body, headers={"Host": f"localhost:{port}"})
    assert running.get("/api/v1/traces").json()["total"] == 1  # the refused ones stored nothing


def test_off_loopback_allowed_hosts_are_enforced_when_set(tmp_path: Path, chdb_dsn: str) -> None:
    exposed = start_service(make_settings(tmp_path, chdb_dsn, host="0.0.0.0", allowed_hosts="llmpulse.example",
                                          public_url="https://pulse.example.com"))
    try:
        def status(host: str) -> int:
            return requests.get(exposed.ui_url + "/api/v1/traces", headers={"Host": host}, timeout=10).status_code

        assert status("attacker.example") == 421
        assert status("llmpulse.example") == status("pulse.example.com") == status("127.0.0.1") == 401  # login
    finally:
        exposed.service.stop()


def test_off_loopback_without_allowed_hosts_any_host_reaches_the_login(exposed: Running) -> None:
    answer = requests.get(exposed.ui_url + "/api/v1/traces", headers={"Host": "pulse.internal"}, timeout=10)
    assert answer.status_code == 401
    admin = login_session(exposed.ui_url, "ada", "correct horse battery")
    forged = admin.post(exposed.ui_url + "/api/v1/channels", json=CHANNEL, timeout=10,
                        headers={"Origin": "http://attacker.example"})
    assert forged.status_code == 403
