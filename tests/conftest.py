"""Shared fixtures: a real llmpulse service on real ports, backed by real chDB and SQLite.

chDB runs one engine per process and data directory, so every in-process test shares one chDB
directory and gets a database of its own; subprocess tests (tests/e2e) get their own directory.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import pytest
import requests

from llmpulse.app import Llmpulse
from llmpulse.config import Settings

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


def run_detectors(running: ServesUi, *names: str) -> list[dict]:
    """Run detectors now through the API (every one when none is named); each run must end ok.

    The HTTP timeout only guards against a hang: it is pytest's per-test limit (pyproject.toml)."""
    body = {"detectors": list(names)} if names else None
    response = requests.post(running.ui_url + "/api/v1/detectors/run", json=body, timeout=300)
    assert response.status_code == 200, response.text
    runs = response.json()["runs"]
    assert all(r["outcome"] == "ok" for r in runs), runs
    return runs


def run_detector(running: ServesUi, name: str) -> dict:
    (run,) = run_detectors(running, name)
    return run


def wait_ready(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"{url} not ready within {timeout}s")


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
