"""`llmpulse serve` runs the detectors on their schedule, and stops them cleanly on SIGTERM."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import api, post_traces, wait_for
from tests.e2e.server import start_server
from tests.spans import Call, export_calls


def test_serve_runs_each_detector_on_its_interval(tmp_path: Path) -> None:
    names = {"metrics", "shadow_pairs", "cohort_rollup", "hallucination", "shadow_judge", "drift", "regression",
             "alerts", "retention"}
    intervals = {f"LLMPULSE_{name.upper()}_INTERVAL": "1" for name in names}
    server = start_server(tmp_path / "data", intervals)
    try:
        post_traces(server.otlp_url, export_calls(*[Call(500 + i) for i in range(5)]))
        runs: list[dict] = []

        def every_one_ran() -> bool:
            runs[:] = api(server, "GET", "/detectors/runs").json()["runs"]
            return {r["detector"] for r in runs if r["trigger"] == "schedule" and r["outcome"] == "ok"} == names

        wait_for(every_one_ran, 30, "not every detector ran ok on its schedule", poll=0.3)
        metrics = [r for r in runs if r["detector"] == "metrics" and r["rows_read"]]
        assert metrics, runs  # the scheduled metrics run rolled up the spans just sent
    finally:
        assert server.terminate() == 0
    log = server.log_path.read_text()
    assert "Traceback" not in log and "leading" in log
