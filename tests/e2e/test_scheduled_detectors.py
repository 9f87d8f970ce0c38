"""`llmpulse serve` runs the detectors on their schedule, and stops them cleanly on SIGTERM."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import api, post_traces, wait_for
from tests.e2e.server import start_server
from tests.spans import Call, export_calls


def test_serve_runs_each_detector_on_its_interval(tmp_path: Path) -> None:
    names = {"metrics", "shadow_pairs", "cohort_rollup", "hallucination", "shadow_judge", "drift", "regression",
             "alerts", "slos", "retention"}
    intervals = {f"LLMPULSE_{name.upper()}_INTERVAL": "1" for name in names}
    server = start_server(tmp_path / "data", intervals)
    try:
        post_traces(server.otlp_url, export_calls(*[Call(500 + i) for i in range(5)]))
        runs: list[dict] = []

        def every_one_ran() -> bool:
            # The ack comes before the writer's insert, so a first metrics run may read nothing: wait
            # for one that rolled up the spans just sent, as well as for every detector's run.
            runs[:] = api(server, "GET", "/detectors/runs").json()["runs"]
            ran = {r["detector"] for r in runs if r["trigger"] == "schedule" and r["outcome"] == "ok"}
            return ran == names and any(r["detector"] == "metrics" and r["rows_read"] for r in runs)

        wait_for(every_one_ran, 30, "not every detector ran ok on its schedule, or none rolled up the spans",
                 poll=0.3)
    finally:
        assert server.terminate() == 0
    log = server.log_path.read_text()
    assert "Traceback" not in log and "leading" in log
