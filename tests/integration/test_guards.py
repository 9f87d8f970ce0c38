"""Guards (the circuit breaker) end to end: traffic from the real OpenTelemetry SDK exporter at
explicit times, the alerts detector run at explicit times (the runner's clock is the detector
context's `now`), the status answered from memory, and the incidents notified to a local receiver."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode
from sqlalchemy import event

from dashboard.prometheus.context import ScrapeContext
from dashboard.prometheus.controls import guard_families
from schemas.clickhouse.metrics import SeriesQuery, window_values
from schemas.clickhouse.rollup import rollup_span
from schemas.clickhouse.scoped_metrics import scoped_window_values
from schemas.metadata.guard_store import GuardStore
from schemas.metadata.store import Metadata
from tests.conftest import Running, api, make_settings, run_detectors, start_service, wait_for
from tests.receiver import Receiver
from tests.scrape import scrape

# A past minute (spans of the future would be refused), the same UTC day as its ticks below.
T = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=1)
if T.hour == 23:
    T -= timedelta(hours=2)
ERRORS = {"name": "mini errors", "metric": "error_rate", "comparator": ">", "threshold": 0.5, "window": "5m",
          "cooldown": "1m", "filters": {"model": "gpt-4o-mini"}}


class Clock:
    """The time the detectors and the status see; tests move it, never the wall clock."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def guarded(tmp_path: Path, chdb_dsn: str) -> Iterator[tuple[Running, Clock]]:
    running = start_service(make_settings(tmp_path, chdb_dsn, guard_refresh_seconds=0.02))
    clock = Clock(T)
    running.service.detector_runner.clock = clock
    running.service.guard_cache.clock = clock
    yield running, clock
    running.service.stop()


def send_calls(running: Running, at: datetime, count: int, *, errors: int = 0, model: str = "gpt-4o-mini",
               user: str = "", input_tokens: int = 100, service: str = "gateway-app") -> None:
    """`count` chat calls a second apart from `at`, the first `errors` failed, through the SDK exporter."""
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=running.otlp_url + "/v1/traces")))
    tracer = provider.get_tracer("test.guards")
    for i in range(count):
        begin = at + timedelta(seconds=i)
        span = tracer.start_span(f"chat {model}", kind=SpanKind.CLIENT, start_time=_nanos(begin))
        span.set_attributes({"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                             "gen_ai.request.model": model, "gen_ai.usage.input_tokens": input_tokens,
                             "gen_ai.usage.output_tokens": 0, **({"user.id": user} if user else {})})
        if i < errors:
            span.set_status(Status(StatusCode.ERROR, "502 from the provider"))
        span.end(end_time=_nanos(begin + timedelta(milliseconds=300)))
    provider.shutdown()
    running.flush()


def _nanos(moment: datetime) -> int:
    return int(moment.timestamp() * 1e9)


def tick(running: Running, clock: Clock, at: datetime) -> None:
    """The alerts detector's run at `at`, then the status cache's next refresh seen."""
    clock.now = at
    run_detectors(running, "alerts")
    refreshes = running.service.guard_cache.refreshes
    wait_for(lambda: running.service.guard_cache.refreshes > refreshes + 1, 10, "the guard cache did not refresh")


def exported_states(running: Running, at: datetime) -> set[str]:
    """The states /metrics' guard gauge says 1 for, scraped as of `at`."""
    context = ScrapeContext(running.service.store, running.service.metadata, at, top_n=20)
    (family,) = guard_families(context)
    return {sample.labels["state"] for sample in family.samples if sample.value == 1}


def status(running: Running, **params: str) -> dict[str, Any]:
    response = running.get("/api/v1/guard/status", **params)
    assert response.status_code == 200, response.text
    return response.json()


def test_closed_open_half_open_closed_with_incident_and_notifications(guarded: tuple[Running, Clock],
                                                                      receiver: Receiver) -> None:
    running, clock = guarded
    hook = api(running, "POST", "/channels", {"type": "webhook", "name": "breaker", "url": receiver.url + "/g"})
    created = api(running, "POST", "/guards", {**ERRORS, "channels": [hook.json()["id"]],
                                               "trickle": {"fraction": 0.5}})
    assert created.status_code == 201, created.text
    assert status(running, model="gpt-4o-mini") == {"project": "default", "allowed": True, "state": "closed",
                                                    "reasons": [], "retry_after_s": 0}
    send_calls(running, T - timedelta(minutes=2), 4, errors=3)
    tick(running, clock, T)
    opened = status(running, model="gpt-4o-mini")
    assert (opened["allowed"], opened["state"], opened["retry_after_s"]) == (False, "open", 60)
    reason = {k: opened["reasons"][0][k] for k in ("guard", "signal", "value", "threshold", "window")}
    assert reason == {"guard": "mini errors", "signal": "error_rate", "value": 0.75, "threshold": 0.5, "window": "5m"}
    assert status(running, model="gpt-4o")["allowed"] is True  # another model's calls go ahead
    firing = receiver.wait_for(1)[0].json()
    assert (firing["event"], firing["rule_name"], firing["value"]) == ("firing", "mini errors", 0.75)
    assert exported_states(running, T) == {"open"}  # /metrics: the state the status answers
    assert exported_states(running, T + timedelta(seconds=61)) == {"half_open"}
    assert "mini errors" in scrape(running.ui_url).label_values("llmpulse_guard_state", "name")  # on /metrics

    tick(running, clock, T + timedelta(seconds=30))
    assert status(running, model="gpt-4o-mini")["retry_after_s"] == 30
    clock.now = T + timedelta(seconds=61)  # the cool-down is over before the next tick: half-open at once
    trickled = [status(running, model="gpt-4o-mini") for _ in range(4)]
    assert [s["state"] for s in trickled] == ["half_open"] * 4
    assert [s["allowed"] for s in trickled] == [False, True, False, True]
    tick(running, clock, T + timedelta(seconds=61))
    (stored,) = api(running, "GET", "/guards").json()["guards"]
    assert (stored["state"], stored["value"]) == ("half_open", 0.75)

    send_calls(running, T + timedelta(minutes=3), 5)  # the probes succeed; the errors leave the window
    tick(running, clock, T + timedelta(minutes=7))
    assert status(running, model="gpt-4o-mini") == {"project": "default", "allowed": True, "state": "closed",
                                                    "reasons": [], "retry_after_s": 0}
    resolved = receiver.wait_for(2)[1].json()
    assert resolved["event"] == "resolved"
    incident = api(running, "GET", f"/alerts/{stored['incident_id']}").json()
    assert incident["state"] == "resolved" and incident["title"] == "Guard mini errors open"
    assert [h["kind"] for h in incident["history"]] == ["firing", "half_open", "resolved"]
    assert len(receiver.requests) == 2


def test_a_spent_budget_is_part_of_the_status(guarded: tuple[Running, Clock]) -> None:
    running, clock = guarded
    budget = api(running, "POST", "/budgets", {"amount_usd": 0.0001, "period": "day", "filters": {"user": "bob"}})
    assert budget.status_code == 201, budget.text
    send_calls(running, T - timedelta(minutes=1), 2, user="bob", input_tokens=400)  # $0.00012 at list price
    tick(running, clock, T)
    refused = status(running, user="bob")
    assert (refused["allowed"], refused["state"]) == (False, "open")
    assert refused["reasons"][0]["guard"] == f"budget {budget.json()['id']}"
    assert refused["reasons"][0]["value"] == 120.0
    day_end = T.replace(hour=0, minute=0) + timedelta(days=1)
    assert refused["retry_after_s"] == int((day_end - T).total_seconds())
    assert status(running, user="amy")["allowed"] is True
    check = running.get("/api/v1/guard/check", user="bob")
    assert check.status_code == 429 and check.headers["Retry-After"] == str(refused["retry_after_s"])
    assert check.headers["X-Llmpulse-Guard-State"] == "open"
    assert running.get("/api/v1/guard/check", user="bob", deny_status="403").status_code == 403
    assert running.get("/api/v1/guard/check", user="amy").status_code == 200


def test_a_budget_per_user_stops_only_the_users_who_spent_theirs(guarded: tuple[Running, Clock]) -> None:
    running, clock = guarded
    budget = api(running, "POST", "/budgets", {"amount_usd": 0.0001, "period": "day", "per": "user"})
    assert budget.status_code == 201, budget.text
    send_calls(running, T - timedelta(minutes=1), 2, user="bob", input_tokens=400)  # $0.00012 at list price
    send_calls(running, T - timedelta(minutes=1), 1, user="amy", input_tokens=400)  # $0.00006
    tick(running, clock, T)
    refused = status(running, user="bob")
    assert (refused["allowed"], refused["reasons"][0]["guard"]) == (False, f"budget {budget.json()['id']}")
    assert status(running, user="amy")["allowed"] is True
    assert status(running)["allowed"] is True  # a call that names no user is held to no user's budget


@pytest.mark.parametrize(("patch", "field", "message"), [
    ({"metric": "vibes"}, "metric", "unknown metric 'vibes'"),
    ({"window": "0s"}, "window", "window must be between"),
    ({"threshold": "high"}, "threshold", "threshold must be a number"),
    ({"filters": {"colour": "blue"}}, "filters", "unknown key 'colour'"),
    ({"cooldown": "soon"}, "cooldown", "is not a duration"),
    ({"channels": [999]}, "channels", "channel 999 does not exist"),
])
def test_bad_guards_are_refused_naming_the_field(running: Running, patch: dict, field: str, message: str) -> None:
    response = api(running, "POST", "/guards", {**ERRORS, **patch})
    assert response.status_code == 400, response.text
    assert response.json()["field"] == field and message in response.json()["error"]
    assert api(running, "GET", "/guards").json()["guards"] == []


def test_guards_are_listed_and_deleted_per_project(running: Running) -> None:
    created = api(running, "POST", "/guards", ERRORS).json()
    assert api(running, "GET", "/guards").json()["guards"][0]["state"] == "closed"
    assert api(running, "GET", "/guard/status", project="nowhere").status_code == 404
    assert api(running, "DELETE", f"/guards/{created['id']}").status_code == 204
    assert api(running, "DELETE", f"/guards/{created['id']}").status_code == 404
    assert api(running, "GET", "/guard/check", deny_status="500").status_code == 400


def test_deleting_an_open_guard_resolves_its_incident_and_frees_its_channel(guarded: tuple[Running, Clock],
                                                                           receiver: Receiver) -> None:
    running, clock = guarded
    hook = api(running, "POST", "/channels", {"type": "webhook", "name": "b", "url": receiver.url + "/g"}).json()
    created = api(running, "POST", "/guards", {**ERRORS, "channels": [hook["id"]]}).json()
    send_calls(running, T - timedelta(minutes=2), 2, errors=2)
    tick(running, clock, T)
    refused = api(running, "DELETE", f"/channels/{hook['id']}")
    assert refused.status_code == 409 and f"guard {created['id']}" in refused.json()["error"]
    (guard,) = api(running, "GET", "/guards").json()["guards"]
    assert api(running, "DELETE", f"/guards/{created['id']}").status_code == 204
    assert status(running, model="gpt-4o-mini")["allowed"] is True  # the API refreshed the snapshot
    incident = api(running, "GET", f"/alerts/{guard['incident_id']}").json()
    assert incident["state"] == "resolved" and incident["history"][-1]["note"] == "guard deleted"
    assert [r.json()["event"] for r in receiver.wait_for(2)] == ["firing", "resolved"]
    assert api(running, "DELETE", f"/channels/{hook['id']}").status_code == 204


def test_the_status_stays_consistent_while_ticks_run(guarded: tuple[Running, Clock]) -> None:
    """Gateways polling during detector ticks: every answer is a whole snapshot's (200, and allowed
    exactly when closed), open from the tick that opened the guard on."""
    running, clock = guarded
    api(running, "POST", "/guards", ERRORS)
    send_calls(running, T - timedelta(minutes=2), 2, errors=2)
    seen: list[list[tuple[int, dict[str, Any]]]] = [[], [], []]
    stop = threading.Event()

    def poll(answers: list[tuple[int, dict[str, Any]]]) -> None:
        with requests.Session() as client:
            while not stop.is_set():
                response = client.get(running.ui_url + "/api/v1/guard/status", params={"model": "gpt-4o-mini"},
                                      timeout=30)
                answers.append((response.status_code, response.json()))

    pollers = [threading.Thread(target=poll, args=(answers,)) for answers in seen]
    for thread in pollers:
        thread.start()
    try:
        for seconds in (0, 10, 20):
            tick(running, clock, T + timedelta(seconds=seconds))
    finally:
        stop.set()
        for thread in pollers:
            thread.join(30)
    for answers in seen:  # in each poller's own order
        assert answers and {code for code, _ in answers} == {200}
        assert all(body["allowed"] == (body["state"] == "closed") for _, body in answers)
        states = [body["state"] for _, body in answers]
        assert states[-1] == "open" and set(states) <= {"closed", "open"}
        assert set(states[states.index("open"):]) == {"open"}  # never closed again once a snapshot said open


def test_the_status_answers_with_no_database_query(guarded: tuple[Running, Clock]) -> None:
    running, clock = guarded
    api(running, "POST", "/guards", ERRORS)
    send_calls(running, T - timedelta(minutes=2), 2, errors=2)
    tick(running, clock, T)
    cache = running.service.guard_cache
    cache.stop()  # its refresh is the only reader; what remains is the request path
    statements: list[str] = []
    engine = running.service.metadata.engine
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    store = running.service.store
    original, store.query_dicts = store.query_dicts, _refuse
    try:
        answers = [status(running, model="gpt-4o-mini") for _ in range(20)]
    finally:
        store.query_dicts = original  # type: ignore[method-assign]
    assert {a["state"] for a in answers} == {"open"} and statements == []


def _refuse(*args: object, **kwargs: object) -> Any:
    raise AssertionError("the guard status queried ClickHouse")


def test_one_scoped_read_answers_as_one_read_per_scope(running: Running) -> None:
    """The tick's grouped read (every scope of a window at once) against `window_values` per scope,
    from the rollup and from raw calls (a user scope)."""
    for model, service, errors in (("gpt-4o-mini", "api", 2), ("gpt-4o", "api", 0), ("gpt-4o-mini", "rag", 1)):
        send_calls(running, T - timedelta(minutes=3), 3, errors=errors, model=model, user=f"u-{service}",
                   service=service)
    run_detectors(running, "metrics")
    store, rollup = running.service.store, rollup_span(running.service.detector_runner.state)
    scopes = [{}, {"model": "gpt-4o-mini"}, {"service": "api"}, {"model": "gpt-4o", "service": "rag"},
              {"user": "u-rag"}]
    query = SeriesQuery("default", ("cost_total", "error_rate", "latency_p95_ms", "requests"), T - timedelta(hours=1),
                        T)
    grouped = scoped_window_values(store, query, scopes, rollup)
    one_by_one = [window_values(store, replace(query, filters=scope), rollup) for scope in scopes]
    assert [g["requests"] for g in grouped] == [9, 6, 6, None, 3]
    assert [g["error_rate"] for g in grouped][:3] == pytest.approx([1 / 3, 0.5, 1 / 3])
    for mine, theirs in zip(grouped[:3] + grouped[4:], one_by_one[:3] + one_by_one[4:], strict=True):
        assert mine == pytest.approx(theirs)


def test_guard_states_round_trip_in_the_metadata_db(metadata: Metadata) -> None:
    guards = GuardStore(metadata)
    guard_id = guards.create("default", {"name": "g"})
    at = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
    guards.save_state(guard_id, {"state": "open", "since": at.isoformat()}, 5, at)
    guards.save_budget_verdicts([{"id": 1, "project": "default"}])
    rows = guards.snapshot()
    assert "default" in rows.projects and rows.budget_verdicts == ({"id": 1, "project": "default"},)
    (stored,) = rows.guards
    assert (stored.state["state"], stored.incident_id, stored.evaluated_at) == ("open", 5, at)
    assert guards.delete("default", guard_id) and guards.list() == []
