"""A user's first minutes: `llmpulse serve`, then `llmpulse demo`, then the read API and the
detectors; SIGTERM stops the server cleanly with every acknowledged span written."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import run_detectors
from tests.e2e.server import ServerProcess, free_port, start_server
from tests.procfs import PRIVATE, mapped_files, resident_kb

# Detectors hand their SciPy and scikit-learn work to a child process (detectors/worker.py), so the
# service never maps them. (pandas it does map: chDB requires it and pyarrow imports it on first use.)
WORKER_ONLY_PACKAGES = ("/sklearn/", "/scipy/")


@pytest.mark.slow
def test_demo_traffic_is_queryable_scored_and_shutdown_is_clean(tmp_path: Path) -> None:
    # No scheduler on the first server: its first detector pass (1 s after start) would fault chDB's
    # pages back in before assert_started_small looks; the restarted server runs the detectors.
    server = start_server(tmp_path / "data", {"LLMPULSE_FLUSH_SECONDS": "30", "LLMPULSE_DETECTORS": "false"})
    try:
        assert_started_small(server)
        nobody = f"http://127.0.0.1:{free_port()}"  # the UI/API port unreachable: the evaluations are skipped
        demo = subprocess.run(
            [sys.executable, "-m", "llmpulse.cli", "demo", "--endpoint", server.otlp_url, "--traces", "60",
             "--url", nobody],
            capture_output=True, text=True, timeout=180,
        )
        assert demo.returncode == 0, demo.stderr[-2000:]
        assert "llm_calls=" in demo.stdout and f"evaluations skipped: llmpulse's API does not answer at {nobody}" \
            in demo.stdout
        assert f"detectors not run now: llmpulse's API does not answer at {nobody}" in demo.stdout
        sent_calls = int(demo.stdout.split("llm_calls=")[1].split(",")[0])
    finally:
        # The 30 s flush interval means the rows are still queued: SIGTERM must write them.
        assert server.terminate() == 0
    log = server.log_path.read_text()
    assert "Traceback" not in log, log[-3000:]

    restarted = start_server(tmp_path / "data")
    try:
        summary = requests.get(restarted.ui_url + "/api/v1/metrics/summary",
                               params={"from": "0", "group_by": "provider"}, timeout=30).json()
        assert summary["total"]["requests"] == sent_calls
        assert {g["key"]["provider"] for g in summary["groups"]} >= {"openai", "anthropic"}
        assert summary["total"]["cost"]["unpriced_requests"] < sent_calls
        assert summary["total"]["cache_read_tokens"] > 0 and summary["total"]["ttft_ms"]["p50"] is not None
        every_call = requests.put(restarted.ui_url + "/api/v1/projects/default", json={"eval_sample_rate": 1.0},
                                  timeout=30)  # the default 10% of the demo's answers could be none
        assert every_call.status_code == 200, every_call.text
        run_detectors(restarted)  # the scheduler's own first pass may have scored some already
        quality = requests.get(restarted.ui_url + "/api/v1/quality/hallucination", params={"from": "0"},
                               timeout=30).json()["total"]
        assert quality["sampled"] > 0  # the worker scored the demo's RAG answers
        mapped = mapped_files(restarted.process.pid)
        assert mapped and not [f for f in mapped if any(p in f for p in WORKER_ONLY_PACKAGES)]
    finally:
        assert restarted.terminate() == 0


@pytest.mark.slow
def test_demo_fills_evaluations_and_prints_the_gate_a_ci_job_runs(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")
    try:
        every_call = requests.put(server.ui_url + "/api/v1/projects/default", json={"eval_sample_rate": 1.0},
                                  timeout=30)  # the default 10% of 20 traces' answers could be none
        assert every_call.status_code == 200, every_call.text
        demo = run_cli("demo", "--endpoint", server.otlp_url, "--traces", "20", "--url", server.ui_url)
        assert demo.returncode == 0 and "the candidate FAILS the gate" in demo.stdout, demo.stdout + demo.stderr
        assert_detectors_ran_and_pages_answer(server, demo.stdout)
        gate_line = next(line for line in demo.stdout.splitlines() if "llmpulse eval gate" in line)
        gate = run_cli(*gate_line.split("llmpulse ", 1)[1].split(), "--url", server.ui_url)
        assert gate.returncode == 1, gate.stdout + gate.stderr  # the candidate fails: a CI job would block
        assert "regress" in gate.stdout
    finally:
        assert server.terminate() == 0


def assert_detectors_ran_and_pages_answer(server: ServerProcess, stdout: str) -> None:
    """The demo ran the detectors itself (Quality has scored calls at once) and each page it prints answers."""
    assert "ran the " in stdout and "did not finish ok" not in stdout, stdout
    quality = requests.get(server.ui_url + "/api/v1/quality/hallucination", params={"from": "0"}, timeout=30)
    assert quality.json()["total"]["sampled"] > 0
    assert "added 3 example alert rules" in stdout and "incidents the example rules opened (demo: " in stdout, stdout
    tour = stdout.split("open the UI:\n", 1)[1].splitlines()
    urls = [word for line in tour for word in line.split() if word.startswith(server.ui_url)]
    assert len(urls) == len(tour) >= 8 and any("/traces/" in url for url in urls), tour
    for url in urls:
        assert requests.get(url, timeout=30).status_code == 200, url


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "llmpulse.cli", *args], capture_output=True, text=True, timeout=180)


def assert_started_small(server: ServerProcess) -> None:
    """Start-up hands back the pages of chDB's library that it touched (~240 MB). Counted on the
    server's private pages: those it shares with this test process (which has run chDB itself when
    an in-process test ran first) cannot be paged out by the server, and are not its own."""
    deadline = time.monotonic() + 30
    while "ready: " not in server.log_path.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert resident_kb("/chdb/_chdb", server.process.pid, PRIVATE) < 100 * 1024
