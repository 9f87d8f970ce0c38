"""`llmpulse serve` runs the detectors on their schedule, and stops them cleanly on SIGTERM."""

from __future__ import annotations

import time
from pathlib import Path

import requests

from tests.e2e.server import start_server
from tests.spans import PROTOBUF, Call, export_calls


def test_serve_runs_each_detector_on_its_interval(tmp_path: Path) -> None:
    names = {"metrics", "hallucination", "drift", "alerts", "retention"}
    intervals = {f"LLMPULSE_{name.upper()}_INTERVAL": "1" for name in names}
    server = start_server(tmp_path / "data", intervals)
    try:
        body = export_calls(*[Call(500 + i) for i in range(5)])
        assert requests.post(server.otlp_url + "/v1/traces", data=body, headers=PROTOBUF, timeout=30).ok
        deadline, seen = time.monotonic() + 30, set()
        while time.monotonic() < deadline and seen != names:
            runs = requests.get(server.ui_url + "/api/v1/detectors/runs", timeout=10).json()["runs"]
            seen = {r["detector"] for r in runs if r["trigger"] == "schedule" and r["outcome"] == "ok"}
            time.sleep(0.3)
        assert seen == names, runs
        metrics = [r for r in runs if r["detector"] == "metrics" and r["rows_read"]]
        assert metrics, runs  # the scheduled metrics run rolled up the spans just sent
    finally:
        assert server.terminate() == 0
    log = server.log_path.read_text()
    assert "Traceback" not in log and "leading" in log
