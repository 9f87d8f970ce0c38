"""Shared fixtures: a real llmpulse service on real ports, backed by real chDB and SQLite.

chDB runs one engine per process and data directory, so every in-process test shares one chDB
directory and gets a database of its own; subprocess tests (tests/e2e) get their own directory.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import pytest
import requests

from llmpulse.app import Llmpulse
from llmpulse.config import Settings
from tests.spans import PROTOBUF, Call, export_calls

# `receiver`: a local stand-in for Slack, PagerDuty and webhooks; `metadata`: SQLite and PostgreSQL.
pytest_plugins = ["tests.receiver", "tests.metadata_db"]


@pytest.fixture(scope="session")
def chdb_dsn(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"chdb://{tmp_path_factory.mktemp('chdb') / 'clickhouse'}"


def make_settings(data_dir: Path, chdb_dsn: str, **overrides: object) -> Settings:
    base = Settings(
        data_dir=data_dir, clickhouse_dsn=chdb_dsn, clickhouse_database=f"t_{uuid.uuid4().hex[:12]}",
        otlp_port=0, ui_port=0, flush_seconds=0.05, threads=4,
        detectors=False,  # tests run detectors on demand; the scheduler has tests of its own
    )
    return replace(base, **overrides)


@dataclass
class Running:
    service: Llmpulse
    otlp_url: str
    ui_url: str

    def flush(self) -> None:
        assert self.service.writer.force_flush(timeout=30), "writer did not flush in 30 s"

    def get(self, path: str, **params: object) -> requests.Response:
        return requests.get(self.ui_url + path, params=params, timeout=30)

    def post_otlp(self, path: str, body: bytes, headers: dict[str, str]) -> requests.Response:
        return requests.post(self.otlp_url + path, data=body, headers=headers, timeout=30)

    def send(self, *bodies: bytes, headers: dict[str, str] | None = None) -> list[requests.Response]:
        """POST each OTLP/protobuf trace request, require a 200 for each, then flush once, so the
        spans are queryable when this returns. The responses carry any partial success."""
        responses = [post_traces(self.otlp_url, body, headers) for body in bodies]
        self.flush()
        return responses

    def send_calls(self, *calls: Call, headers: dict[str, str] | None = None) -> requests.Response:
        """`send` of one request carrying these calls (tests.spans.export_calls)."""
        (response,) = self.send(export_calls(*calls), headers=headers)
        return response


def post_traces(otlp_url: str, body: bytes, headers: dict[str, str] | None = None) -> requests.Response:
    """POST one OTLP/protobuf trace request to a collector, in-process or a `serve` subprocess, and
    require its 200. `headers` add to (or override) the protobuf Content-Type."""
    response = requests.post(otlp_url + "/v1/traces", data=body, headers={**PROTOBUF, **(headers or {})}, timeout=30)
    assert response.status_code == 200, response.content
    return response


def start_service(settings: Settings) -> Running:
    service = Llmpulse(settings)
    service.start()
    running = Running(service, f"http://127.0.0.1:{service.port('otlp')}",
                      f"http://127.0.0.1:{service.port('ui')}")
    wait_ready(running.ui_url + "/readyz")
    return running


class ServesUi(Protocol):
    """An in-process `Running` or a `llmpulse serve` subprocess: whatever answers the UI port."""

    ui_url: str


def api(running: ServesUi, method: str, path: str, body: object = None, **params: object) -> requests.Response:
    """One call to the read/write API under /api/v1 (JSON body, query parameters); the caller checks
    the status. The HTTP timeout only guards against a hang: it is pytest's per-test limit."""
    return requests.request(method, running.ui_url + "/api/v1" + path, json=body, params=params or None,
                            timeout=300)


def run_detectors(running: ServesUi, *names: str) -> list[dict]:
    """Run detectors now through the API (every one when none is named); each run must end ok, and
    the alerts run must report no rule or budget that failed (it goes on past one that raised)."""
    response = api(running, "POST", "/detectors/run", {"detectors": list(names)} if names else None)
    assert response.status_code == 200, response.text
    runs = response.json()["runs"]
    assert all(r["outcome"] == "ok" for r in runs), runs
    # An alerts run says "N rule(s), N budget(s), N guard(s), N notification(s)", then "; rule 3: Error: …" per
    # rule or budget that raised (detectors/alerts/detector.py): any such part is a failure.
    assert not any("; " in r["message"] for r in runs if r["detector"] == "alerts"), runs
    return runs


def settled_deliveries(running: ServesUi, path: str, count: int, timeout: float = 30) -> list[dict]:
    """The notification deliveries listed at `path` (an alert, a channel) once at least `count`
    exist and none is pending. A detector run or a channel test records its deliveries before it
    answers, so after one this list is complete: a delivery it should not have made is in it."""
    found: list[dict] = []

    def settled() -> bool:
        found[:] = api(running, "GET", path).json()["deliveries"]
        return len(found) >= count and all(d["status"] != "pending" for d in found)

    wait_for(settled, timeout, f"deliveries at {path} did not finish")
    return found


def run_detector(running: ServesUi, name: str) -> dict:
    (run,) = run_detectors(running, name)
    return run


def wait_for(condition: Callable[[], object], timeout: float, message: str, poll: float = 0.02) -> float:
    """Poll until `condition()` is truthy and return the seconds it took; fail with `message` after
    `timeout`. Tests wait on what they need to see, never for a fixed time that decides a result."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"{message} (not within {timeout} s)")
        time.sleep(poll)
    return time.monotonic() - start


def wait_ready(url: str, timeout: float = 30.0) -> None:
    wait_for(lambda: answers_200(url), timeout, f"{url} not ready", poll=0.05)


def answers_200(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except (requests.ConnectionError, requests.Timeout):  # not listening yet, or too busy starting to answer
        return False


def login_session(ui_url: str, username: str, password: str) -> requests.Session:
    """A session logged in to a UI bound off loopback (see dashboard.auth)."""
    import re

    client = requests.Session()
    form = client.get(ui_url + "/login", timeout=10).text
    token = re.search(r'name="csrf" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    answer = client.post(ui_url + "/login", data={"csrf": token, "username": username, "password": password},
                         headers={"Origin": ui_url}, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, f"login as {username} failed: {answer.status_code}"
    return client


@pytest.fixture
def running(tmp_path: Path, chdb_dsn: str) -> Iterator[Running]:
    handle = start_service(make_settings(tmp_path, chdb_dsn))
    yield handle
    handle.service.stop()


def start_exposed(data_dir: Path, chdb_dsn: str) -> Running:
    """A service bound off loopback (so logins are required; tests still connect through
    127.0.0.1) with an admin, ada, and a viewer, vic."""
    from schemas.metadata.users import UserStore

    running = start_service(make_settings(data_dir, chdb_dsn, host="0.0.0.0"))
    users = UserStore(running.service.metadata)
    users.create("ada", "correct horse battery", "admin")
    users.create("vic", "viewer password 1", "viewer")
    return running


@pytest.fixture
def exposed(tmp_path: Path, chdb_dsn: str) -> Iterator[Running]:
    running = start_exposed(tmp_path, chdb_dsn)
    yield running
    running.service.stop()


def pytest_sessionstart(session: pytest.Session) -> None:
    """In CI the corpus is always checked out beside the repo: its absence is a failure, not a skip.
    Stale compiled modules are refused: they would shadow the source that was edited."""
    import os

    from tests import corpus
    from tests.interpreted import stale_builds

    if os.environ.get("CI") and not corpus.corpus_available():
        pytest.exit(f"CI: the OTLP corpus is missing at {corpus.corpus_dir()}", returncode=3)
    if stale := stale_builds():
        pytest.exit("compiled modules older than their source: " + "; ".join(stale)
                    + ". Rebuild with scripts/test.sh (or pip install -e .)", returncode=4)
