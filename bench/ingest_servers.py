"""Start the systems under test as real subprocesses on free ports, and count what they can query."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _http_json(url: str, body: dict | None = None, timeout: float = 10) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data, {"Content-Type": "application/json"} if data else {})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def _wait_http(url: str, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} not ready after {timeout:.0f} s")


@dataclass
class Server:
    name: str
    process: subprocess.Popen
    host: str
    port: int
    path: str
    count: Callable[[], int]  # spans/calls queryable right now
    log: Path

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


def start_llmpulse(workdir: Path) -> Server:
    otlp, ui = free_port(), free_port()
    log = workdir / "llmpulse.log"
    command = [
        sys.executable,
        "-m",
        "llmpulse.cli",
        "serve",
        "--data-dir",
        str(workdir / "llmpulse-data"),
        "--host",
        "127.0.0.1",
        "--otlp-port",
        str(otlp),
        "--ui-port",
        str(ui),
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    _wait_http(f"http://127.0.0.1:{ui}/readyz", process, 120)
    since, until = int(time.time()) - 86_400, int(time.time()) + 86_400
    url = f"http://127.0.0.1:{ui}/api/v1/metrics/summary?project=default&group_by=model&from={since}&to={until}"
    return Server(
        "llmpulse",
        process,
        "127.0.0.1",
        otlp,
        "/v1/traces",
        lambda: int(_http_json(url, timeout=30)["total"]["requests"]),
        log,
    )


def _phoenix_counter(port: int) -> Callable[[], int]:
    query = {"query": "{ projects { edges { node { name recordCount } } } }"}

    def count() -> int:
        edges = _http_json(f"http://127.0.0.1:{port}/graphql", query, timeout=60)["data"]["projects"]["edges"]
        return sum(edge["node"]["recordCount"] for edge in edges)

    return count


def start_phoenix(python: str, workdir: Path) -> Server:
    port, grpc = free_port(), free_port()
    env = {
        **os.environ,
        "PHOENIX_WORKING_DIR": str(workdir / "phoenix-data"),
        "PHOENIX_PORT": str(port),
        "PHOENIX_GRPC_PORT": str(grpc),
        "PHOENIX_HOST": "127.0.0.1",
        "PHOENIX_TELEMETRY_ENABLED": "false",
    }
    log = workdir / "phoenix.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [python, "-m", "phoenix.server.main", "serve"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    _wait_http(f"http://127.0.0.1:{port}/healthz", process, 180)
    return Server("phoenix", process, "127.0.0.1", port, "/v1/traces", _phoenix_counter(port), log)
