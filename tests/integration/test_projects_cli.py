"""`llmpulse projects show|set` against a running llmpulse over real HTTP: what `set` sends is what
the API then reports; a value the server refuses exits 1 with its message and changes nothing; an
option the CLI cannot read exits 2 before anything is sent; off loopback a token decides."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from llmpulse.cli import main
from schemas.metadata.tokens import TokenStore
from tests.conftest import Running, api, make_settings, start_exposed, start_service

KEY_VARIABLE = "LLMPULSE_TARGET_CLI"
PROMPT = "You answer support questions, briefly, in English."


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, chdb_dsn: str) -> Iterator[Running]:
    """Datasets golden and faq, webhook channels #1 and #2."""
    running = start_service(make_settings(tmp_path_factory.mktemp("projects-cli"), chdb_dsn))
    for name in ("golden", "faq"):
        assert api(running, "POST", "/datasets", {"name": name}).status_code == 201
    for name in ("oncall", "ml-team"):
        channel = {"type": "webhook", "name": name, "url": "http://127.0.0.1:9/hook", "secret": "s"}
        assert api(running, "POST", "/channels", channel).status_code == 201
    yield running
    running.service.stop()


@pytest.fixture(autouse=True)
def fresh(server: Running, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts without a regression set; the key variable is set in the server's environment
    (this process: the in-process service reads it when it checks a target)."""
    monkeypatch.setenv(KEY_VARIABLE, "sk-cli")
    assert api(server, "PUT", "/projects/default", {"regression_dataset": None}).status_code == 200


def llmpulse(server: Running | str, *args: str, token: str | None = None) -> Result:
    url = server if isinstance(server, str) else server.ui_url
    return CliRunner().invoke(main, ["projects", *args, "--url", url, *(["--token", token] if token else [])])


def reported(server: Running) -> dict:
    return api(server, "GET", "/projects/default").json()


def regression(project: dict) -> dict:
    return {key: value for key, value in project.items() if key.startswith("regression_")}


def test_set_sends_the_regression_set_and_the_api_reports_it(server: Running) -> None:
    done = llmpulse(server, "set", "default", "--regression-dataset", "golden",
                    "--regression-target", f"gpt-4o=http://127.0.0.1:9/v1,api_key_env={KEY_VARIABLE},"
                                           f"system_prompt={PROMPT},temperature=0,max_tokens=300",
                    "--regression-target", "gpt-4o-mini=http://127.0.0.1:9/v1/,model=gpt-4o-mini-2024-07-18",
                    "--regression-min-pass-rate", "0.8", "--regression-channel", "2", "--regression-channel", "1",
                    "--retention-days", "90")
    assert done.exit_code == 0, done.output
    assert regression(reported(server)) == {
        "regression_dataset": "golden",
        "regression_targets": {
            "gpt-4o": {"endpoint": "http://127.0.0.1:9/v1", "model": "gpt-4o", "api_key_env": KEY_VARIABLE,
                       "system_prompt": PROMPT, "temperature": 0.0, "max_tokens": 300},
            "gpt-4o-mini": {"endpoint": "http://127.0.0.1:9/v1", "model": "gpt-4o-mini-2024-07-18"}},
        "regression_min_pass_rate": 0.8, "regression_channels": [1, 2]}
    assert reported(server)["retention_days"] == 90
    assert done.output.startswith("saved project default\nproject           default (created ")
    assert "regression set    golden\n  min pass rate   0.8\n  alerts          channels 1, 2\n" in done.output
    assert done.output.endswith(
        "  target          gpt-4o\n    endpoint      http://127.0.0.1:9/v1\n    model         gpt-4o\n"
        f"    api_key_env   {KEY_VARIABLE}\n    system_prompt {PROMPT}\n    temperature   0.0\n    max_tokens    300\n"
        "  target          gpt-4o-mini\n    endpoint      http://127.0.0.1:9/v1\n"
        "    model         gpt-4o-mini-2024-07-18\n")

    shown = llmpulse(server, "show", "default")
    assert shown.exit_code == 0 and shown.output == done.output.removeprefix("saved project default\n")
    as_json = llmpulse(server, "show", "default", "--format", "json")
    assert as_json.exit_code == 0 and json.loads(as_json.output) == reported(server)


def test_options_not_given_stay_and_all_none_choose_the_channels(server: Running) -> None:
    assert llmpulse(server, "set", "default", "--regression-dataset", "golden", "--regression-target",
                    "gpt-4o=http://127.0.0.1:9/v1", "--regression-channel", "none").exit_code == 0
    assert reported(server)["regression_channels"] == []
    done = llmpulse(server, "set", "default", "--regression-dataset", "faq", "--regression-channel", "all")
    assert done.exit_code == 0, done.output
    assert regression(reported(server)) == {
        "regression_dataset": "faq", "regression_min_pass_rate": None, "regression_channels": None,
        "regression_targets": {"gpt-4o": {"endpoint": "http://127.0.0.1:9/v1", "model": "gpt-4o"}}}
    assert "  alerts          every channel of the project" in done.output
    assert llmpulse(server, "set", "default", "--regression-min-pass-rate", "0.5").exit_code == 0
    assert llmpulse(server, "set", "default", "--regression-min-pass-rate", "none").exit_code == 0
    assert reported(server)["regression_min_pass_rate"] is None
    removed = llmpulse(server, "set", "default", "--no-regression-set")
    assert removed.exit_code == 0 and "regression set    none" in removed.output
    assert regression(reported(server))["regression_dataset"] is None


def test_cohort_keys_are_set_shown_and_returned_to_the_defaults(server: Running) -> None:
    defaults = reported(server)["cohort_keys"]
    done = llmpulse(server, "set", "default", "--cohort-key", "app.variant", "--cohort-key", "service.version")
    assert done.exit_code == 0, done.output
    assert "cohort keys       app.variant, service.version\n" in done.output
    assert reported(server)["cohort_keys"] == ["app.variant", "service.version"]
    assert "cohort keys       none (every A/B comparison scans" in llmpulse(server, "set", "default", "--cohort-key",
                                                                             "none").output
    refused = llmpulse(server, "set", "default", "--cohort-key", "model")
    assert refused.exit_code == 1 and "names a column" in refused.output and reported(server)["cohort_keys"] == []
    assert llmpulse(server, "set", "default", "--cohort-key", "default").exit_code == 0
    assert reported(server)["cohort_keys"] == defaults


@pytest.mark.parametrize(("args", "message"), [
    (("--regression-dataset", "golden", "--regression-min-pass-rate", "1.5"),
     "llmpulse refused (400): regression_min_pass_rate must be a fraction from 0 to 1 (0.8 for 80%), got 1.5"),
    (("--regression-dataset", "nope"), "regression_dataset: no dataset 'nope' in project 'default'"),
    (("--regression-dataset", "golden", "--regression-target", "gpt-4o=ftp://x/v1"),
     "regression_targets['gpt-4o']: endpoint 'ftp://x/v1' is not an http(s) URL"),
    (("--regression-dataset", "golden", "--regression-target", "gpt-4o=http://x/v1,api_key_env=MY_KEY"),
     "api_key_env 'MY_KEY' is not allowed"),
    (("--regression-dataset", "golden", "--regression-channel", "7"), "regression_channels: no channel 7"),
    (("--regression-target", "gpt-4o=http://x/v1"), "regression_dataset is required"),
    (("--retention-days", "0", "--regression-dataset", "golden"),
     "retention_days must be a whole number of days from 1 to 3650, got 0"),
])
def test_a_value_the_server_refuses_exits_1_with_its_message_and_changes_nothing(
        server: Running, args: tuple[str, ...], message: str) -> None:
    before = reported(server)
    done = llmpulse(server, "set", "default", *args)
    assert done.exit_code == 1 and message in done.output, done.output
    assert reported(server) == before


@pytest.mark.parametrize(("args", "message"), [
    (("--regression-target", "gpt-4o"), "'gpt-4o' is not MODEL=ENDPOINT[,model=…,api_key_env=…]"),
    (("--regression-target", "gpt-4o=http://x/v1,modle=gpt-4o"), "gpt-4o: unknown field 'modle'"),
    (("--regression-target", "gpt-4o=http://x/v1,temperature=warm"), "gpt-4o: temperature='warm' is not a number"),
    (("--regression-target", "a=http://x/v1", "--regression-target", "a=http://y/v1"), "a is given twice"),
    (("--regression-min-pass-rate", "high"), "'high' is not a number (0.8 for 80%) or none"),
    (("--regression-channel", "all", "--regression-channel", "3"), "all and none stand alone"),
    (("--regression-channel", "oncall"), "channel ids are numbers"),
    (("--no-regression-set", "--regression-dataset", "golden"), "--no-regression-set removes the regression set"),
    ((), "nothing to set"),
    (("--retention-days", "a month"), "'a month' is not a valid integer"),
])
def test_an_option_the_cli_cannot_read_exits_2_before_anything_is_sent(server: Running, args: tuple[str, ...],
                                                                       message: str) -> None:
    before = reported(server)
    done = llmpulse(server, "set", "default", *args)
    assert done.exit_code == 2 and message in done.output, done.output
    assert reported(server) == before


def test_the_installed_command_shows_a_project(server: Running) -> None:
    """As a user runs it: the `projects` group is registered on the real entry point."""
    done = subprocess.run([sys.executable, "-m", "llmpulse.cli", "projects", "show", "default"], text=True,
                          capture_output=True, timeout=120, env={**os.environ, "LLMPULSE_URL": server.ui_url})
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("project           default (created ") and "regression set    none" in done.stdout


def test_an_unknown_project_or_an_unreachable_server_exits_1(server: Running) -> None:
    missing = llmpulse(server, "show", "nope")
    assert missing.exit_code == 1 and "llmpulse refused (404): project 'nope' does not exist" in missing.output
    with socket.socket() as closed:  # bound, never listening: a connection is refused at once
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"
        done = llmpulse(url, "show", "default")
    assert done.exit_code == 1 and f"cannot reach llmpulse at {url}/api/v1/projects/default" in done.output


def test_off_loopback_a_viewer_token_is_403_and_an_admin_token_sets(tmp_path: Path, chdb_dsn: str) -> None:
    exposed = start_exposed(tmp_path, chdb_dsn)
    try:
        tokens = TokenStore(exposed.service.metadata)
        viewer, admin = tokens.create("vic").token, tokens.create("ada").token
        assert llmpulse(exposed, "show", "default").exit_code == 1  # no token: 401
        assert llmpulse(exposed, "show", "default", token=viewer).exit_code == 0  # a viewer reads
        refused = llmpulse(exposed, "set", "default", "--retention-days", "7", token=viewer)
        assert refused.exit_code == 1 and "llmpulse refused (403)" in refused.output
        assert "for an admin" in refused.output
        done = llmpulse(exposed, "set", "default", "--retention-days", "7", token=admin)
        assert done.exit_code == 0, done.output
        assert exposed.service.metadata.require_project("default").retention_days == 7
    finally:
        exposed.service.stop()
