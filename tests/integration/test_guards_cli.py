"""`llmpulse guards list|show|create|delete|status` against a running llmpulse over real HTTP: what
`create` sends is what the API then lists; a guard the server refuses exits 1 with its message and
stores nothing; an option the CLI cannot read exits 2 before anything is sent; `status` is the
gateway's verdict, exit 0 when a call may go ahead and 3 when not (an open guard from real traffic
and a real alerts tick at explicit times)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from llmpulse.cli import main
from schemas.metadata.tokens import TokenStore
from tests.conftest import Running, api, make_settings, start_exposed, start_service
from tests.integration.test_guards import Clock, T, send_calls, tick


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, chdb_dsn: str) -> Iterator[tuple[Running, Clock]]:
    """Webhook channel #1; the detectors and the status cache on a clock the tests move."""
    running = start_service(make_settings(tmp_path_factory.mktemp("guards-cli"), chdb_dsn,
                                          guard_refresh_seconds=0.02))
    clock = Clock(T)
    running.service.detector_runner.clock = clock
    running.service.guard_cache.clock = clock
    channel = {"type": "webhook", "name": "oncall", "url": "http://127.0.0.1:9/hook", "secret": "s"}
    assert api(running, "POST", "/channels", channel).status_code == 201
    yield running, clock
    running.service.stop()


@pytest.fixture
def running(server: tuple[Running, Clock]) -> Iterator[Running]:
    """Each test starts and ends without guards."""
    yield server[0]
    for guard in listed(server[0]):
        assert api(server[0], "DELETE", f"/guards/{guard['id']}").status_code == 204


def llmpulse(server: Running | str, *args: str, token: str | None = None) -> Result:
    url = server if isinstance(server, str) else server.ui_url
    return CliRunner().invoke(main, ["guards", *args, "--url", url, *(["--token", token] if token else [])])


def listed(running: Running) -> list[dict]:
    return api(running, "GET", "/guards").json()["guards"]


MINI_ERRORS = ("--name", "mini errors", "--metric", "error_rate", "--threshold", "0.5", "--model", "gpt-4o-mini")


def test_create_sends_every_option_and_list_show_delete_read_it_back(running: Running) -> None:
    done = llmpulse(running, "create", "--name", "checkout errors", "--metric", "error_rate", "--comparator", ">=",
                    "--threshold", "0.25", "--window", "10m", "--model", "gpt-4o", "--service", "checkout",
                    "--user", "u1", "--tag", "beta", "--cooldown", "2m", "--trickle", "10%", "--channel", "1",
                    "--severity", "critical")
    assert done.exit_code == 0, done.output
    (guard,) = listed(running)
    assert done.output == f"created guard {guard['id']}: checkout errors\n"
    assert {k: guard[k] for k in ("name", "metric", "comparator", "threshold", "window", "filters", "cooldown",
                                  "trickle", "channels", "severity", "state")} == {
        "name": "checkout errors", "metric": "error_rate", "comparator": ">=", "threshold": 0.25, "window": "10m",
        "filters": {"model": "gpt-4o", "service": "checkout", "tag": "beta", "user": "u1"}, "cooldown": "2m",
        "trickle": {"fraction": 0.1}, "channels": [1], "severity": "critical", "state": "closed"}

    assert llmpulse(running, "create", *MINI_ERRORS, "--trickle", "12/min").exit_code == 0
    lines = llmpulse(running, "list").output.splitlines()
    assert lines[0].split() == ["ID", "NAME", "CONDITION", "SCOPE", "STATE", "VALUE", "COOL-DOWN", "TRICKLE"]
    assert lines[1].split()[:3] == [str(guard["id"]), "checkout", "errors"]
    assert "error_rate >= 25.0% over 10m" in lines[1] and lines[1].endswith("2m  10% of calls")
    assert "model=gpt-4o-mini" in lines[2] and "closed" in lines[2] and lines[2].endswith("5m  12/min")
    as_json = llmpulse(running, "list", "--json")
    assert json.loads(as_json.output) == listed(running)

    shown = llmpulse(running, "show", str(guard["id"]))
    assert shown.exit_code == 0 and json.loads(shown.output) == guard
    deleted = llmpulse(running, "delete", str(guard["id"]))
    assert deleted.exit_code == 0 and deleted.output == f"deleted guard {guard['id']}\n"
    assert [g["name"] for g in listed(running)] == ["mini errors"]
    gone = llmpulse(running, "show", str(guard["id"]))
    assert gone.exit_code == 1 and f"llmpulse refused (404): guard {guard['id']} does not exist" in gone.output
    assert llmpulse(running, "delete", str(guard["id"])).exit_code == 1


@pytest.mark.parametrize(("args", "message"), [
    (("--window", "0s"), "window must be between"),
    (("--cooldown", "soon"), "is not a duration"),
    (("--cooldown", "2d"), "cooldown must be between 1s and 1d"),
    (("--channel", "999"), "channel 999 does not exist"),
    (("--trickle", "1.5"), "trickle.fraction must be more than 0 and at most 1"),
    (("--trickle", "0/min"), "trickle.per_minute must be a whole number from 1 to 100000"),
    (("--threshold", "2"), "threshold for error_rate is a fraction between 0 and 1"),
    (("--name", " "), "name is required"),
])
def test_a_guard_the_server_refuses_exits_1_with_its_message_and_stores_nothing(
        running: Running, args: tuple[str, ...], message: str) -> None:
    done = llmpulse(running, "create", *MINI_ERRORS, *args)
    assert done.exit_code == 1 and "llmpulse refused (400): " in done.output and message in done.output, done.output
    assert listed(running) == []


@pytest.mark.parametrize(("args", "message"), [
    (("--metric", "vibes"), "'vibes' is not one of"),
    (("--threshold", "high"), "'high' is not a valid float"),
    (("--comparator", "="), "'=' is not one of"),
    (("--trickle", "lots"), "'lots' is not a fraction (0.1, 10%) or N/min (6/min)"),
    (("--channel", "oncall"), "'oncall' is not a valid integer"),
])
def test_an_option_the_cli_cannot_read_exits_2_before_anything_is_sent(running: Running, args: tuple[str, ...],
                                                                       message: str) -> None:
    done = llmpulse(running, "create", *MINI_ERRORS, *args)
    assert done.exit_code == 2 and message in done.output, done.output
    assert listed(running) == []
    missing = llmpulse(running, "create", "--metric", "error_rate", "--threshold", "0.5")
    assert missing.exit_code == 2 and "Missing option '--name'" in missing.output


def test_status_exits_0_while_calls_may_go_and_3_once_a_guard_refuses(server: tuple[Running, Clock],
                                                                      running: Running) -> None:
    clock = server[1]
    assert llmpulse(running, "create", *MINI_ERRORS, "--cooldown", "1m").exit_code == 0
    allowed = llmpulse(running, "status", "--model", "gpt-4o-mini")
    assert (allowed.exit_code, allowed.output) == (0, "allowed (closed)\n")
    send_calls(running, T - timedelta(minutes=2), 4, errors=3)
    tick(running, clock, T)

    refused = llmpulse(running, "status", "--model", "gpt-4o-mini", "--user", "u1")
    assert refused.exit_code == 3, refused.output
    assert refused.output == ("refused: retry in 60 s (OPEN)\n"
                              "  mini errors OPEN: error_rate 75.0% > 50.0% over 5m (model=gpt-4o-mini)\n")
    assert llmpulse(running, "status", "--model", "gpt-4o").exit_code == 0  # another model's calls go
    as_json = llmpulse(running, "status", "--model", "gpt-4o-mini", "--json")
    assert as_json.exit_code == 3 and json.loads(as_json.output)["state"] == "open"
    # The list tells the state as of the wall clock, like the Alerts page: T's cool-down is long over.
    assert "half-open" in llmpulse(running, "list").output.splitlines()[1]

    # As a shell script runs it: the exit code of the installed command is the verdict.
    env = {**os.environ, "LLMPULSE_URL": running.ui_url}
    for model, code in (("gpt-4o-mini", 3), ("gpt-4o", 0)):
        done = subprocess.run([sys.executable, "-m", "llmpulse.cli", "guards", "status", "--model", model],
                              capture_output=True, text=True, timeout=120, env=env)
        assert done.returncode == code, done.stderr


def test_an_unknown_project_or_an_unreachable_server_exits_1(running: Running) -> None:
    missing = llmpulse(running, "status", "--project", "nope")
    assert missing.exit_code == 1 and "llmpulse refused (404): project 'nope' does not exist" in missing.output
    with socket.socket() as closed:  # bound, never listening: a connection is refused at once
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"
        done = llmpulse(url, "status")
    assert done.exit_code == 1 and f"cannot reach llmpulse at {url}/api/v1/guard/status" in done.output


def test_off_loopback_a_viewer_token_reads_and_asks_but_only_an_admin_creates(tmp_path: Path,
                                                                              chdb_dsn: str) -> None:
    exposed = start_exposed(tmp_path, chdb_dsn)
    try:
        tokens = TokenStore(exposed.service.metadata)
        viewer, admin = tokens.create("vic").token, tokens.create("ada").token
        assert llmpulse(exposed, "status").exit_code == 1  # no token: 401
        assert llmpulse(exposed, "status", token=viewer).exit_code == 0
        refused = llmpulse(exposed, "create", *MINI_ERRORS, token=viewer)
        assert refused.exit_code == 1 and "llmpulse refused (403)" in refused.output
        assert "for an admin" in refused.output
        assert llmpulse(exposed, "create", *MINI_ERRORS, token=admin).exit_code == 0
        listing = llmpulse(exposed, "list", token=viewer)
        assert listing.exit_code == 0 and "mini errors" in listing.output
    finally:
        exposed.service.stop()
