"""SLOs end to end: calls sent through the real OpenTelemetry SDK exporter at explicit times, the
`slos` detector run at explicit times (its context's `now`, never the wall clock), figures read
through the API as of those times, and burn-rate incidents delivered to a local webhook receiver."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

from dashboard.prometheus.context import ScrapeContext
from dashboard.prometheus.controls import slo_families
from detectors.base import DetectorContext
from detectors.slo.status import slo_budgets_left
from schemas.metadata.runs import StateStore
from tests.conftest import Running, api, settled_deliveries
from tests.receiver import Receiver
from tests.scrape import scrape

NOW = datetime(2026, 11, 20, 12, 0, 30, tzinfo=UTC)
MODEL, OTHER = "gpt-4o-mini", "gpt-4o"


def nanos(moment: datetime) -> int:
    return int(moment.timestamp() * 1e9)


def send(running: Running, calls: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Export chat calls (start, duration, error, model, tokens, ttft) through the SDK; returns their ids."""
    provider = TracerProvider(resource=Resource.create({"service.name": "support-bot"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=running.otlp_url + "/v1/traces")))
    tracer, ids = provider.get_tracer("test.slo"), []
    for call in calls:
        model = call.get("model", MODEL)
        span = tracer.start_span(f"chat {model}", kind=SpanKind.CLIENT, start_time=nanos(call["at"]))
        span.set_attributes({"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                             "gen_ai.request.model": model, "gen_ai.usage.input_tokens": call.get("tokens", 100),
                             "gen_ai.usage.output_tokens": 10})
        if "ttft_ms" in call:
            span.set_attribute("gen_ai.response.time_to_first_chunk", call["ttft_ms"] / 1000)
        if call.get("error"):
            span.set_status(Status(StatusCode.ERROR, "503 upstream"))
        span.end(end_time=nanos(call["at"] + timedelta(milliseconds=call.get("ms", 300))))
        context = span.get_span_context()
        ids.append((format(context.trace_id, "032x"), format(context.span_id, "016x")))
    provider.shutdown()
    running.flush()
    return ids


def spread(start: datetime, count: int, step: timedelta, **facts: Any) -> list[dict[str, Any]]:
    return [{"at": start + i * step, **facts} for i in range(count)]


def run_slos(running: Running, now: datetime) -> str:
    service = running.service
    detector = service.detector_runner.detectors["slos"]
    result = detector.run(DetectorContext(service.store, service.metadata, StateStore(service.metadata), now))
    assert "; " not in result.message, result.message  # no SLO failed
    return result.message


def create_slo(running: Running, **body: Any) -> dict[str, Any]:
    response = api(running, "POST", "/slos", body)
    assert response.status_code == 201, response.text
    return response.json()


def slo_at(running: Running, slo_id: int, at: datetime) -> dict[str, Any]:
    response = api(running, "GET", f"/slos/{slo_id}", at=at.isoformat())
    assert response.status_code == 200, response.text
    return response.json()


def test_fast_burn_pages_through_the_webhook_and_the_budget_is_a_hand_count(running: Running,
                                                                            receiver: Receiver) -> None:
    hook = api(running, "POST", "/channels", {"type": "webhook", "name": "oncall", "url": receiver.url + "/hook"})
    slo = create_slo(running, name="answers succeed", sli="errors", target=0.99, window="28d",
                     filters={"model": MODEL}, channels=[hook.json()["id"]])
    send(running, [
        *spread(datetime(2026, 11, 15, 10, 0, tzinfo=UTC), 100, timedelta(seconds=30)),  # 5 days ago: all good
        # 11:10-11:29: inside the 1 h and 6 h windows, outside 30 min: 40 calls, 2 failed
        *[{"at": datetime(2026, 11, 20, 11, 10, tzinfo=UTC) + timedelta(seconds=30 * i), "error": i < 2}
          for i in range(40)],
        # 11:58-12:00: inside every window: 10 calls, 6 failed
        *[{"at": datetime(2026, 11, 20, 11, 58, tzinfo=UTC) + timedelta(seconds=15 * i), "error": i < 6}
          for i in range(10)],
        *spread(datetime(2026, 11, 20, 11, 59, tzinfo=UTC), 5, timedelta(seconds=5), model=OTHER, error=True),
    ])
    assert "1 counted over their window" in run_slos(running, NOW)
    status = slo_at(running, slo["id"], NOW)
    # 28 days: 150 calls of the model, 8 failed; 99% allows 1.5 bad -> 8 / 1.5 of the budget spent.
    assert (status["good"], status["total"], status["counted"]) == (142, 150, True)
    assert status["error_budget_consumed"] == pytest.approx(8 / 1.5)
    assert status["error_budget_left"] == pytest.approx(1 - 8 / 1.5)
    # 5 m and 30 m: 6 of 10 failed (60x); 1 h and 6 h: 8 of 50 (16x); 24 h the same.
    assert status["burn_rate_5m"] == pytest.approx(60) and status["burn_rate_30m"] == pytest.approx(60)
    assert status["burn_rate_1h"] == pytest.approx(16) and status["burn_rate_6h"] == pytest.approx(16)
    assert status["burn_rate_24h"] == pytest.approx(16)
    assert {a["name"]: a["state"] for a in status["alerts"]} == {"page": "firing", "ticket": "firing"}
    exported = slo_budgets_left(running.service.store, running.service.alert_store.list_slos(), NOW)  # /metrics
    assert exported == [{"project": "default", "id": slo["id"], "name": "answers succeed", "sli": "errors",
                         "error_budget_left": pytest.approx(status["error_budget_left"])}]
    (gauge,) = slo_families(ScrapeContext(running.service.store, running.service.metadata, NOW, top_n=20))
    assert [(s.labels["name"], s.value) for s in gauge.samples] == [
        ("answers succeed", pytest.approx(status["error_budget_left"]))]
    assert "answers succeed" in scrape(running.ui_url).label_values("llmpulse_slo_error_budget_left", "name")

    incidents = {i["title"]: i for i in api(running, "GET", "/alerts").json()}
    page = incidents["SLO answers succeed: fast burn: page"]
    assert (page["severity"], page["state"], page["value"]) == ("critical", "firing", pytest.approx(16))
    assert incidents["SLO answers succeed: slow burn: ticket"]["severity"] == "warning"
    assert settled_deliveries(running, f"/alerts/{page['id']}", 1)[0]["status"] == "sent"
    sent = {r.json()["rule_name"]: r.json() for r in receiver.wait_for(2) if r.path == "/hook"}
    assert sent["SLO answers succeed: fast burn: page"]["event"] == "firing"
    assert sent["SLO answers succeed: fast burn: page"]["severity"] == "critical"
    in_use = api(running, "DELETE", f"/channels/{hook.json()['id']}")
    assert in_use.status_code == 409 and f"slo {slo['id']}" in in_use.json()["error"]
    assert api(running, "POST", f"/alerts/{page['id']}/ack", by="ada").status_code == 200
    (stored,) = running.service.alert_store.list_slos("default")
    assert stored.state["page"]["acknowledged_at"]  # the SLO's alert knows: no re-notification while acked
    assert not stored.state["ticket"]["acknowledged_at"]

    # Recovery: 50 good calls at 12:20-12:29, counted as dirty minutes by the next run.
    send(running, spread(datetime(2026, 11, 20, 12, 20, tzinfo=UTC), 50, timedelta(seconds=12)))
    later = datetime(2026, 11, 20, 12, 31, tzinfo=UTC)
    run_slos(running, later)
    status = slo_at(running, slo["id"], later)
    assert (status["good"], status["total"]) == (192, 200)
    assert status["error_budget_left"] == pytest.approx(1 - 8 / 2.0)
    # 1 h (from 11:32): 60 calls, 6 failed -> 10x; 5 m and 30 m: none failed.
    assert status["burn_rate_1h"] == pytest.approx(10) and status["burn_rate_5m"] == 0
    assert {a["name"]: a["state"] for a in status["alerts"]} == {"page": "resolved", "ticket": "resolved"}
    assert api(running, "GET", f"/alerts/{page['id']}").json()["state"] == "resolved"
    resolved = [r.json() for r in receiver.wait_for(4) if r.path == "/hook" and r.json()["event"] == "resolved"]
    assert len(resolved) == 2


def test_deleting_a_burning_slo_resolves_its_incidents(running: Running) -> None:
    slo = create_slo(running, name="gone", sli="errors", target=0.99, window="7d")
    send(running, spread(datetime(2026, 11, 20, 11, 58, tzinfo=UTC), 10, timedelta(seconds=10), error=True))
    run_slos(running, NOW)
    assert {i["state"] for i in api(running, "GET", "/alerts").json()} == {"firing"}
    assert api(running, "DELETE", f"/slos/{slo['id']}").status_code == 204
    incidents = api(running, "GET", "/alerts").json()
    assert len(incidents) == 2 and {i["state"] for i in incidents} == {"resolved"}
    assert incidents[0]["history"][-1]["note"] == "the SLO was deleted"


def test_each_sli_counts_its_good_calls_exactly(running: Running) -> None:
    start = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    ids = send(running, [
        {"at": start, "ms": 400, "ttft_ms": 150},
        {"at": start + timedelta(seconds=10), "ms": 800, "ttft_ms": 450},
        {"at": start + timedelta(seconds=20), "ms": 1200, "tokens": 1_000_000},  # $0.15 of input, no TTFT
        {"at": start + timedelta(minutes=3), "ms": 600, "ttft_ms": 300, "error": True},
        # The 1-day windows end after 12:00 and start at 12:01 yesterday: one call just outside, one
        # inside the window's first, partial hour (read from minutes, the whole hours from hours).
        {"at": datetime(2026, 11, 19, 12, 0, 59, tzinfo=UTC), "ms": 100},
        {"at": datetime(2026, 11, 19, 12, 30, tzinfo=UTC), "ms": 100},
    ])
    slos = {
        "latency": create_slo(running, name="p", sli="latency", threshold=700, target=0.9, window="1d"),
        "ttft": create_slo(running, name="t", sli="ttft", threshold=400, target=0.9, window="1d"),
        "cost": create_slo(running, name="c", sli="cost_per_request", threshold=0.01, target=0.9, window="1d"),
        "hallucination": create_slo(running, name="h", sli="hallucination", target=0.9, window="1d"),
    }
    for n, (trace_id, span_id) in enumerate(ids):
        verdict = {"trace_id": trace_id, "span_id": span_id, "name": "hallucination",
                   "label": "hallucinated" if n == 1 else "grounded"}
        assert api(running, "POST", "/scores", verdict).status_code == 201
    run_slos(running, NOW)
    counts = {name: (s["good"], s["total"]) for name, s in
              ((name, slo_at(running, slo["id"], NOW)) for name, slo in slos.items())}
    assert counts == {"latency": (3, 5), "ttft": (2, 3), "cost": (4, 5), "hallucination": (4, 5)}
    listed = api(running, "GET", "/slos", at=NOW.isoformat()).json()["slos"]
    assert [s["name"] for s in listed] == ["p", "t", "c", "h"] and listed[0]["burn_rate_24h"] == pytest.approx(4)


@pytest.mark.parametrize(("patch", "field"), [
    ({"sli": "uptime"}, "sli"), ({"window": "0s"}, "window"), ({"target": 1.0}, "target"),
    ({"target": 0}, "target"), ({"threshold": None}, "threshold"), ({"channels": [42]}, "channels"),
])
def test_bad_slos_are_refused_naming_the_field(running: Running, patch: dict, field: str) -> None:
    body = {"name": "n", "sli": "latency", "threshold": 500, "target": 0.99, "window": "28d", **patch}
    response = api(running, "POST", "/slos", body)
    assert response.status_code == 400 and response.json()["field"] == field, response.text
    assert api(running, "GET", "/slos").json()["slos"] == []


def test_delete_and_unknown_ids(running: Running) -> None:
    slo = create_slo(running, name="n", sli="errors", target=0.99, window="7d")
    assert api(running, "GET", "/slos/999").status_code == 404
    assert api(running, "DELETE", f"/slos/{slo['id']}").status_code == 204
    assert api(running, "DELETE", f"/slos/{slo['id']}").status_code == 404
    assert api(running, "GET", "/slos").json()["slos"] == []


def test_the_cli_creates_lists_shows_and_deletes(running: Running) -> None:
    from click.testing import CliRunner

    from llmpulse.cli import main

    def slos(*args: str) -> Any:
        return CliRunner().invoke(main, ["slos", *args, "--url", running.ui_url])

    created = slos("create", "--name", "fast answers", "--sli", "latency", "--threshold", "800", "--target", "0.99",
                   "--window", "7d", "--filter", "model=gpt-4o")
    assert created.exit_code == 0 and created.output.startswith("created SLO "), created.output
    slo_id = created.output.split()[2].rstrip(":")
    listed = slos("list")
    assert listed.exit_code == 0 and "fast answers" in listed.output and "latency<=800" in listed.output
    assert "counting" in listed.output  # the detector has not counted it yet
    shown = slos("show", slo_id)
    assert shown.exit_code == 0 and '"filters": {\n    "model": "gpt-4o"\n  }' in shown.output
    refused = slos("create", "--name", "x", "--sli", "errors", "--target", "1.5")
    assert refused.exit_code == 1 and "llmpulse refused (400): target must be" in refused.output
    assert slos("delete", slo_id).exit_code == 0
    gone = slos("show", slo_id)
    assert gone.exit_code == 1 and "(404)" in gone.output


def test_a_long_history_is_counted_two_days_a_run_newest_first(running: Running) -> None:
    slo = create_slo(running, name="n", sli="errors", target=0.9, window="28d")
    send(running, [{"at": datetime(2026, 11, day, 11, 0, tzinfo=UTC) + timedelta(minutes=i), "error": i == 0}
                   for day in (14, 16, 18, 20) for i in range(5)])
    assert "1 still counting" in run_slos(running, NOW)
    first = slo_at(running, slo["id"], NOW)
    assert (first["counted"], first["good"], first["total"]) == (False, 8, 10)  # the 18th and the 20th
    assert first["burn_rate_24h"] == pytest.approx(2.0)  # the burn windows are whole already: 1 of 5 / 0.1
    run_slos(running, NOW)
    done = slo_at(running, slo["id"], NOW)
    assert (done["counted"], done["good"], done["total"]) == (True, 16, 20)
