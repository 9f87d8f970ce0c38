"""`llmpulse datasets import` run as a user runs it, against a real service over real HTTP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from tests.conftest import Running, api, login_session


def import_file(*args: str, url: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "llmpulse.cli", "datasets", "import", *args],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "LLMPULSE_URL": url})


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


def test_a_server_that_needs_a_login_refuses_with_exit_1(exposed: Running, tmp_path: Path) -> None:
    """Off loopback the API needs a login session and the CLI has no token: say so, store nothing."""
    file = tmp_path / "one.jsonl"
    file.write_text('{"input": "hello"}\n')
    done = import_file("golden", str(file), url=exposed.ui_url)
    assert done.returncode == 1
    assert "llmpulse refused (401)" in done.stderr and "needs a login off loopback" in done.stderr
    admin = login_session(exposed.ui_url, "ada", "correct horse battery")
    assert admin.get(exposed.ui_url + "/api/v1/datasets/golden", timeout=30).status_code == 404
