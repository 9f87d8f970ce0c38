"""`llmpulse datasets import` run as a user runs it, against a real service over real HTTP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import requests

from tests.conftest import Running, api, login_session, wait_for


def import_file(*args: str, url: str, token: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "LLMPULSE_URL": url, "LLMPULSE_TOKEN": token}
    return subprocess.run([sys.executable, "-m", "llmpulse.cli", "datasets", "import", *args],
                          capture_output=True, text=True, timeout=120, env=env)


def llmpulse(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "llmpulse.cli", "--data-dir", str(data_dir), *args],
                          capture_output=True, text=True, timeout=120)


def test_jsonl_import_creates_the_dataset_in_one_version(running: Running, tmp_path: Path) -> None:
    lines = [{"input": "capital of France?", "expected": "Paris", "assertions": {"must_contain": ["Paris"]}},
             {"input": [{"role": "user", "content": "2+2?"}], "metadata": {"topic": "math"}}]
    file = tmp_path / "golden.jsonl"
    file.write_text(json.dumps(lines[0]) + "\n\n" + json.dumps(lines[1]) + "\n")
    done = import_file("golden", str(file), url=running.ui_url)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "imported 2 items into golden (version 1)"
    read = api(running, "GET", "/datasets/golden").json()
    assert read["version"] == 1
    assert [(i["input"], i["expected"], i["metadata"]) for i in read["items"]] == [
        ("capital of France?", "Paris", {}), ([{"role": "user", "content": "2+2?"}], None, {"topic": "math"})]


def test_csv_import_into_an_existing_dataset_adds_a_version(running: Running, tmp_path: Path) -> None:
    assert api(running, "POST", "/datasets", {"name": "faq"}).status_code == 201
    file = tmp_path / "faq.csv"
    file.write_text('input,expected,metadata.source,assertions\n'
                    'Who wrote Hamlet?,Shakespeare,wiki,"{""must_not_contain"": [""Marlowe""]}"\n'
                    '"Say ""hi""",,manual,\n')
    done = import_file("faq", str(file), "--project", "default", url=running.ui_url)
    assert done.returncode == 0, done.stderr
    assert "imported 2 items into faq (version 1)" in done.stdout
    items = api(running, "GET", "/datasets/faq").json()["items"]
    assert [(i["input"], i["expected"], i["metadata"], i["assertions"]) for i in items] == [
        ("Who wrote Hamlet?", "Shakespeare", {"source": "wiki"}, {"must_not_contain": ["Marlowe"]}),
        ('Say "hi"', None, {"source": "manual"}, {})]


def test_a_bad_line_is_named_and_nothing_is_sent(running: Running, tmp_path: Path) -> None:
    assert api(running, "POST", "/datasets", {"name": "kept"}).status_code == 201
    file = tmp_path / "bad.jsonl"
    file.write_text('{"input": "fine"}\n\n{"input": "x", "assertions": {"regex": "("}}\n')
    done = import_file("kept", str(file), url=running.ui_url)
    assert done.returncode == 2
    assert "line 3: assertions.regex is not a valid regular expression" in done.stderr
    kept = api(running, "GET", "/datasets/kept").json()
    assert (kept["version"], kept["items"]) == (0, [])
    missing = tmp_path / "nothing.csv"
    missing.write_text("input,expected\n,no input\n")
    done = import_file("new-one", str(missing), url=running.ui_url)
    assert done.returncode == 2 and "line 2: input is required" in done.stderr
    assert api(running, "GET", "/datasets/new-one").status_code == 404


def test_an_unreachable_server_is_exit_1_with_a_clear_message(tmp_path: Path) -> None:
    file = tmp_path / "one.jsonl"
    file.write_text('{"input": "hello"}\n')
    with socket.socket() as closed:  # bound, never listening: a connection is refused at once
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"
        done = import_file("golden", str(file), url=url)
    assert done.returncode == 1
    assert f"cannot reach llmpulse at {url}/api/v1/datasets" in done.stderr and "LLMPULSE_URL" in done.stderr


def test_an_unknown_extension_is_a_usage_error(tmp_path: Path) -> None:
    file = tmp_path / "items.txt"
    file.write_text('{"input": "hello"}\n')
    done = import_file("golden", str(file), url="http://127.0.0.1:9")
    assert done.returncode == 2 and "use --format jsonl|csv" in done.stderr
    assert import_file("golden", str(file), "--format", "jsonl", url="http://127.0.0.1:9").returncode == 1


def test_off_loopback_without_a_token_the_import_exits_1_saying_how_to_get_one(exposed: Running,
                                                                              tmp_path: Path) -> None:
    file = tmp_path / "one.jsonl"
    file.write_text('{"input": "hello"}\n')
    done = import_file("golden", str(file), url=exposed.ui_url)
    assert done.returncode == 1
    assert "llmpulse refused (401)" in done.stderr and "llmpulse tokens create --user NAME" in done.stderr
    admin = login_session(exposed.ui_url, "ada", "correct horse battery")
    assert admin.get(exposed.ui_url + "/api/v1/datasets/golden", timeout=30).status_code == 404


def test_off_loopback_an_admin_token_from_the_cli_imports_and_is_stored_hashed(exposed: Running,
                                                                                tmp_path: Path) -> None:
    data_dir = exposed.service.settings.data_dir
    created = llmpulse(data_dir, "tokens", "create", "--user", "ada", "--name", "ci", "--expires-days", "30")
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert token.startswith("lpt_") and "shown only once" in created.stderr and "LLMPULSE_TOKEN" in created.stderr
    stored = b"".join(f.read_bytes() for f in Path(data_dir).glob("meta.db*"))  # the WAL too
    assert b"lpt_" in stored and token.encode() not in stored  # its prefix only
    file = tmp_path / "golden.jsonl"
    file.write_text('{"input": "hello", "expected": "hi"}\n')
    done = import_file("golden", str(file), url=exposed.ui_url, token=token)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "imported 1 items into golden (version 1)"
    listed = llmpulse(data_dir, "tokens", "list").stdout.split("\t")
    assert listed[1:4] == ["ada", token[:12] + "…", "ci"] and listed[-1].strip() == "active"
    assert listed[-2] != "unused"  # the import used it


def test_off_loopback_a_viewer_token_is_403_and_a_revoked_one_401_each_exit_1(exposed: Running,
                                                                               tmp_path: Path) -> None:
    data_dir = exposed.service.settings.data_dir
    token = llmpulse(data_dir, "tokens", "create", "--user", "vic").stdout.strip()
    file = tmp_path / "golden.jsonl"
    file.write_text('{"input": "hello"}\n')
    done = subprocess.run([sys.executable, "-m", "llmpulse.cli", "datasets", "import", "golden", str(file),
                           "--url", exposed.ui_url, "--token", token], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "llmpulse refused (403)" in done.stderr and "needs the admin role" in done.stderr
    assert "llmpulse tokens create --user NAME" in done.stderr
    assert llmpulse(data_dir, "tokens", "revoke", "1").stdout.strip() == "revoked token 1"
    again = llmpulse(data_dir, "tokens", "revoke", "1")
    assert again.returncode == 1 and "no active token with id 1" in again.stderr
    # A token's good verdict is cached for a few seconds (dashboard.bearer): the revocation holds within them.
    wait_for(lambda: requests.get(exposed.ui_url + "/api/v1/datasets", headers={"Authorization": f"Bearer {token}"},
                                  timeout=10).status_code == 401, 30, "the revoked token was still accepted")
    revoked = import_file("golden", str(file), url=exposed.ui_url, token=token)
    assert revoked.returncode == 1 and "(401)" in revoked.stderr and "was revoked" in revoked.stderr
    missing = llmpulse(data_dir, "tokens", "create", "--user", "nobody")
    assert missing.returncode == 1 and "no user 'nobody'" in missing.stderr
