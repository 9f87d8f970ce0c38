"""Budgets per ingest key ("every key at most $X a month"): the collector records which key sent
each span (its id, never the key), the budget status and the guard status answer per key, and
warnings go out per key. Calls are sent by the real OpenTelemetry SDK exporter over real HTTP with
two different ingest keys (and none), at explicit times."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind

from detectors.alerts.budget_rules import period_bounds
from detectors.alerts.budget_spend import _spend_whole, saved_statuses
from schemas.clickhouse.rollup import rollup_span
from schemas.clickhouse.spend_rollup import SpendQuery, spend_by_value
from schemas.metadata.runs import StateStore
from tests.conftest import Running, api, make_settings, run_detectors, settled_deliveries, start_service, wait_for
from tests.integration.test_budgets_per_value import AMOUNT, call_time
from tests.receiver import Receiver
from tests.scrape import scrape


@dataclass(frozen=True)
class Keyed:
    running: Running
    keys: dict[str, str]  # name → the secret key
    ids: dict[str, str]  # name → the key's id, what spans record and budgets group by


@pytest.fixture
def keyed(tmp_path: Path, chdb_dsn: str) -> Iterator[Keyed]:
    running = start_service(make_settings(tmp_path, chdb_dsn, guard_refresh_seconds=0.02))
    made = {name: running.service.metadata.create_key("default", name) for name in ("team-a", "team-b")}
    yield Keyed(running, {n: k.key for n, k in made.items()}, {n: str(k.info.id) for n, k in made.items()})
    running.service.stop()


def send(running: Running, key: str | None, calls: list[tuple[str, int]], first: int = 0,
         resource: dict[str, str] | None = None) -> None:
    """(user, input tokens) per call, sent with `key` (None: no key), 10 ms apart from `call_time`."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    exporter = OTLPSpanExporter(endpoint=running.otlp_url + "/v1/traces", headers=headers)
    provider = TracerProvider(resource=Resource.create({"service.name": "gateway", **(resource or {})}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer, begin = provider.get_tracer("test.budgets.keys", "1.0"), call_time()
    for i, (user, tokens) in enumerate(calls, start=first):
        start = int((begin + timedelta(milliseconds=10 * i)).timestamp() * 1e9)
        span = tracer.start_span("chat gpt-4o-mini", kind=SpanKind.CLIENT, start_time=start)
        span.set_attributes({"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                             "gen_ai.request.model": "gpt-4o-mini", "gen_ai.usage.input_tokens": tokens,
                             "gen_ai.usage.output_tokens": 0, "user.id": user,
                             "gen_ai.response.id": f"chatcmpl-{i}"})
        span.end(end_time=start + 300_000_000)
    provider.shutdown()
    running.flush()


def send_three_senders(k: Keyed) -> None:
    """team-a spends $0.00012 (over $0.0001), team-b $0.00006, and a keyless sender that claims
    team-a's id in its resource spends $0.00006 that belongs to no key."""
    send(k.running, k.keys["team-a"], [("u1", 400), ("u2", 400)])
    send(k.running, k.keys["team-b"], [("u1", 400)], first=10)
    send(k.running, None, [("u3", 400)], first=20, resource={"llmpulse.ingest_key": k.ids["team-a"]})


def per_key_budget(running: Running, receiver: Receiver) -> tuple[int, int]:
    hook = api(running, "POST", "/channels", {"type": "webhook", "name": "fin", "url": receiver.url + "/k"}).json()
    budget = api(running, "POST", "/budgets", {"amount_usd": AMOUNT, "period": "month", "per": "ingest_key",
                                               "thresholds_pct": [50, 100], "channels": [hook["id"]]})
    assert budget.status_code == 201, budget.text
    assert budget.json()["per"] == "ingest_key"
    return hook["id"], budget.json()["id"]


def test_spans_record_the_key_id_never_the_key(keyed: Keyed) -> None:
    send_three_senders(keyed)
    rows = keyed.running.service.store.query(
        "SELECT user_id, resource_attributes['llmpulse.ingest_key'], ingest_key, toString(resource_attributes), "
        "toString(attributes) FROM {db}.spans FINAL ORDER BY start_time", {}, "test_span_keys")
    assert [(user, mapped, column) for user, mapped, column, *_ in rows] == [
        ("u1", keyed.ids["team-a"], keyed.ids["team-a"]), ("u2", keyed.ids["team-a"], keyed.ids["team-a"]),
        ("u1", keyed.ids["team-b"], keyed.ids["team-b"]), ("u3", "", "")]  # the keyless claim was dropped
    for *_, resource, attributes in rows:
        assert all(secret not in resource + attributes for secret in keyed.keys.values())


def test_status_per_key_and_warnings_per_key(keyed: Keyed, receiver: Receiver) -> None:
    running, ids = keyed.running, keyed.ids
    hook, budget = per_key_budget(running, receiver)
    send_three_senders(keyed)
    over = api(running, "GET", "/budget/status", ingest_key=ids["team-a"]).json()
    assert over["allowed"] is False and over["spent_exact"] == "0.00012" and over["crossed"] == [50, 100]
    assert over["budgets"][0]["value"] == ids["team-a"] and over["budgets"][0]["per"] == "ingest_key"
    under = api(running, "GET", "/budget/status", ingest_key=ids["team-b"]).json()
    assert under["allowed"] is True and under["spent_exact"] == "0.00006" and under["crossed"] == [50]
    bare = api(running, "GET", "/budget/status").json()
    assert bare["allowed"] is True and bare["budgets"] == [] and "ingest_key=" in bare["reason"]
    assert "pass ingest_key=" in bare["not_applicable"][0]["note"]
    run_detectors(running, "alerts")
    run_detectors(running, "alerts")  # each threshold is announced once per key and period
    received = receiver.wait_for(3)
    assert len(settled_deliveries(running, f"/channels/{hook}/deliveries", 3)) == 3
    assert sorted((r.json()["scope"]["ingest_key"], r.json()["threshold"]) for r in received) == sorted([
        (ids["team-a"], 50.0), (ids["team-a"], 100.0), (ids["team-b"], 50.0)])
    titles = {i["title"] for i in api(running, "GET", "/alerts").json()}
    assert f"Budget 100% of ${AMOUNT} per ingest key per month reached by key {ids['team-a']}" in titles
    saved = saved_statuses(StateStore(running.service.metadata))[budget]  # the tick's one save: /metrics reads it
    assert saved["over"] == [ids["team-a"]] and saved["spent_exact"] == "0.00012"  # the biggest spender's figures


def test_the_guard_status_stops_only_the_keys_that_spent_theirs(keyed: Keyed, receiver: Receiver) -> None:
    running, ids = keyed.running, keyed.ids
    _, budget = per_key_budget(running, receiver)
    send_three_senders(keyed)
    run_detectors(running, "alerts")
    refreshes = running.service.guard_cache.refreshes  # a refresh begun after the tick's save
    wait_for(lambda: running.service.guard_cache.refreshes > refreshes + 1, 10, "the guard cache did not refresh")
    refused = running.get("/api/v1/guard/status", ingest_key=ids["team-a"]).json()
    assert (refused["allowed"], refused["reasons"][0]["guard"]) == (False, f"budget {budget}")
    assert running.get("/api/v1/guard/status", ingest_key=ids["team-b"]).json()["allowed"] is True
    assert running.get("/api/v1/guard/status", user="u1").json()["allowed"] is True  # no key named: no key's budget
    assert running.get("/api/v1/guard/check", ingest_key=ids["team-a"]).status_code == 429
    metrics = scrape(running.ui_url)
    labels = {"project": "default", "budget": str(budget), "period": "month"}
    assert metrics.value("llmpulse_budget_used_ratio", **labels) == pytest.approx(1.2)  # team-a: $0.00012 of $0.0001
    assert metrics.value("llmpulse_budget_allowed", **labels) == 0


def test_spend_rollup_per_key_answers_as_the_raw_calls_do(keyed: Keyed) -> None:
    running = keyed.running
    body = {"amount_usd": 1, "period": "month", "per": "ingest_key"}
    assert api(running, "POST", "/budgets", body).status_code == 201
    send_three_senders(keyed)
    run_detectors(running, "metrics")
    store, rollup = running.service.store, rollup_span(StateStore(running.service.metadata))
    assert rollup is not None and rollup.spend_start is not None
    rows = store.query("SELECT value, calls FROM {db}.call_spend_hour FINAL WHERE dimension = 'ingest_key' "
                       "AND request_model = '' AND calls > 0 ORDER BY value", {}, "test_spend_keys")
    assert sorted(rows) == sorted([(keyed.ids["team-a"], 2), (keyed.ids["team-b"], 1)])
    now = call_time() + timedelta(minutes=1)
    for model in (None, "gpt-4o-mini"):
        query = SpendQuery("default", "ingest_key", period_bounds("month", now)[0], now, model)
        raw = spend_by_value(store, query, None)
        assert spend_by_value(store, query, _spend_whole(rollup)) == raw
        assert [value for value, _ in raw] == [keyed.ids["team-a"], keyed.ids["team-b"]]


@pytest.mark.parametrize(("patch", "field", "message"), [
    ({"per": "ingest_key", "filters": {"user": "u1"}}, "filters", "takes only a model filter"),
    ({"per": "ingest_keys"}, "per", "per 'ingest_keys' is not accepted"),
])
def test_bad_per_key_budgets_are_refused(keyed: Keyed, patch: dict, field: str, message: str) -> None:
    response = api(keyed.running, "POST", "/budgets", {"amount_usd": 5, "period": "month", **patch})
    assert response.status_code == 400 and response.json()["field"] == field, response.text
    assert message in response.json()["error"]
