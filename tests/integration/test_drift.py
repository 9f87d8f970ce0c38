"""Drift after silent model updates: the change `llmpulse demo` makes is found, a stable stream gives
no event (real OTel exporter and OTLP/HTTP, real engine)."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime

import pytest

import detectors.drift
from detectors.worker import Worker
from llmpulse.demo.send import run_demo
from schemas.clickhouse.drift import insert_drift_events
from tests.conftest import Running, api, run_detector
from tests.spans import Call, export_calls

DAY_NS = 86_400 * 10**9


def test_the_demo_silent_update_is_found_in_each_project(running: Running) -> None:
    now = datetime.now(UTC)
    run_demo(running.otlp_url, traces=700, seed=5, days=1.0, now=now)
    run_demo(running.otlp_url, traces=700, seed=6, days=1.0, now=now,
             api_key=running.service.metadata.create_key("acme").key)
    running.flush()
    run = run_detector(running, "drift")
    assert run["rows_written"] >= 4, run  # a model change and a behaviour shift in each project
    for project in ("default", "acme"):
        events = api(running, "GET", "/drift", model="gpt-4o-mini", project=project).json()
        changes = [e for e in events if e["kind"] == "model_change"]
        assert {(e["features"][0]["name"], e["to"]) for e in changes} == {
            ("response_model", "gpt-4o-mini-2025-01-31"), ("system_fingerprint", "fp_e4a9c27b5d")}, changes
        change = next(e for e in changes if e["features"][0]["name"] == "response_model")
        midpoint = now.timestamp() - 43_200
        assert abs(datetime.fromisoformat(change["changed_at"]).timestamp() - midpoint) < 3 * 3600
        assert change["from"] != change["to"] and change["to"].startswith("gpt-4o-mini")
        shifts = [e for e in events if e["kind"] == "behaviour"]
        assert len(shifts) == 1, events
        moved = {f["name"] for f in shifts[0]["features"] if f["moved"]}
        assert "output_tokens" in moved or (shifts[0]["auc"] or 0) >= 0.6, shifts[0]
    assert run_detector(running, "drift")["rows_written"] == 0  # a change is reported once


def count_workers(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    started: list[str] = []

    class CountedWorker(Worker):
        def __init__(self, target: str) -> None:
            started.append(target)
            super().__init__(target)

    monkeypatch.setattr(detectors.drift, "Worker", CountedWorker)
    return started


def test_a_stable_stream_gives_no_event(running: Running, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(3)
    start = time.time_ns() - 3 * DAY_NS
    calls = []
    for i in range(1200):
        output = int(rng.lognormvariate(5, 0.4))
        calls.append(Call(10_000 + i, start_ns=start + int(i * 3 * DAY_NS / 1200), output_tokens=output,
                          duration_ms=300 + output * rng.uniform(18, 22), ttft_ms=rng.uniform(200, 400),
                          response_model="gpt-4o-2024-08-06", fingerprint="fp_stable", model="gpt-4o",
                          finish_reason=rng.choices(["stop", "length"], [0.95, 0.05])[0], error=rng.random() < 0.01))
    running.send(*(export_calls(*calls[batch:batch + 300]) for batch in range(0, len(calls), 300)))
    workers = count_workers(monkeypatch)
    run = run_detector(running, "drift")
    assert run["rows_read"] >= 400 and run["rows_written"] == 0, run
    assert api(running, "GET", "/drift").json() == []
    assert workers == [detectors.drift.COMPARE_WINDOWS]  # one worker compares every model's windows


def test_without_two_windows_to_compare_no_worker_starts(running: Running, monkeypatch: pytest.MonkeyPatch) -> None:
    """Calls of the last hour only: nothing to compare, so no SciPy child (~115 MB) for nothing."""
    now = time.time_ns()
    calls = [Call(20_000 + i, start_ns=now - (i + 1) * 10**9, model="gpt-4o") for i in range(100)]
    running.send_calls(*calls)
    workers = count_workers(monkeypatch)
    assert run_detector(running, "drift")["rows_read"] == 0
    assert workers == []


def test_an_event_is_listed_for_every_window_its_change_to_detection_span_meets(running: Running) -> None:
    def event(name: str, changed: datetime, detected: datetime) -> dict:
        return {"project_id": "windows", "event_id": name, "kind": "model_change", "request_model": "m",
                "provider": "p", "from_value": "a", "to_value": "b", "changed_at": changed, "detected_at": detected,
                "features": [], "auc": None, "p_value": None, "baseline_n": 0, "current_n": 0, "summary": name}

    day = datetime(2026, 3, 10, tzinfo=UTC)
    running.service.metadata.ensure_project("windows")
    insert_drift_events(running.service.store, [
        event("inside", day.replace(hour=2), day.replace(hour=3)),
        event("detected-later", day.replace(hour=22), day.replace(day=11, hour=1)),
        event("began-before", day.replace(day=9, hour=20), day.replace(hour=1)),
        event("before", day.replace(day=8), day.replace(day=9)),
        event("after", day.replace(day=11, hour=2), day.replace(day=11, hour=3)),
    ])

    def listed(start: datetime, end: datetime) -> set[str]:
        return {e["summary"] for e in api(running, "GET", "/drift", project="windows", **{
            "from": start.isoformat(), "to": end.isoformat()}).json()}

    assert listed(day, day.replace(day=11)) == {"inside", "detected-later", "began-before"}
    assert listed(day.replace(hour=4), day.replace(hour=5)) == set()


def test_the_runners_calls_served_another_version_are_no_model_change(running: Running) -> None:
    """A regression run against another endpoint may be answered by another version; that is not
    what production is served, so the in-service runner's calls (environment `experiment`) are
    not read as a change."""
    start = time.time_ns() - 3 * DAY_NS
    production = [Call(20_000 + i, start_ns=start + int(i * 3 * DAY_NS / 900), model="gpt-4o",
                       response_model="gpt-4o-2024-08-06", fingerprint="fp_stable") for i in range(900)]
    late = start + 2 * DAY_NS
    runner = [Call(30_000 + i, start_ns=late + i * 10**9, model="gpt-4o", response_model="gpt-4o-2025-05-01",
                   fingerprint="fp_other", extra={"deployment.environment.name": "experiment"}) for i in range(300)]
    calls = production + runner
    running.send(*(export_calls(*calls[batch:batch + 300]) for batch in range(0, len(calls), 300)))
    run_detector(running, "drift")
    assert [e for e in api(running, "GET", "/drift").json() if e["kind"] == "model_change"] == []
