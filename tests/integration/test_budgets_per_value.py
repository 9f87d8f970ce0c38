"""Budgets per user and per tag ("every user at most $X a month") through the real API, with calls
sent by the real OpenTelemetry SDK exporter at explicit times and threshold warnings received by a
local webhook receiver."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind

from detectors.alerts import detector
from detectors.alerts.budget_rules import period_bounds
from tests.conftest import Running, api, run_detectors, settled_deliveries
from tests.receiver import Receiver

# 400 input tokens of gpt-4o-mini at list price ($0.15 per million) cost $0.00006.
AMOUNT = 0.0001


def call_time() -> datetime:
    """A minute ago, but inside this month: the status reads the calendar period containing now."""
    now = datetime.now(UTC).replace(microsecond=0)
    return max(period_bounds("month", now)[0], now - timedelta(minutes=1))


def send(running: Running, calls: list[tuple[str, int, list[str]]]) -> None:
    """(user, input tokens, tags) per call, each its own trace, one second apart from `call_time`."""
    provider = TracerProvider(resource=Resource.create({"service.name": "support-bot"}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=running.otlp_url + "/v1/traces")))
    tracer, begin = provider.get_tracer("test.budgets", "1.0"), call_time()
    for i, (user, tokens, tags) in enumerate(calls):
        start = int((begin + timedelta(milliseconds=10 * i)).timestamp() * 1e9)
        span = tracer.start_span("chat gpt-4o-mini", kind=SpanKind.CLIENT, start_time=start)
        span.set_attributes({"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                             "gen_ai.request.model": "gpt-4o-mini", "gen_ai.usage.input_tokens": tokens,
                             "gen_ai.usage.output_tokens": 0, "user.id": user,
                             "gen_ai.response.id": f"chatcmpl-{user}-{i}", "langfuse.trace.tags": tags})
        span.end(end_time=start + 300_000_000)
    provider.shutdown()
    running.flush()


def per_user_budget(running: Running, receiver: Receiver) -> int:
    hook = api(running, "POST", "/channels", {"type": "webhook", "name": "fin", "url": receiver.url + "/b"}).json()
    budget = api(running, "POST", "/budgets", {"amount_usd": AMOUNT, "period": "month", "per": "user",
                                               "thresholds_pct": [50, 100], "channels": [hook["id"]]})
    assert budget.status_code == 201, budget.text
    assert budget.json()["per"] == "user"
    return hook["id"]


def test_status_per_user_and_warnings_per_user(running: Running, receiver: Receiver) -> None:
    hook = per_user_budget(running, receiver)
    send(running, [("u1", 400, []), ("u1", 400, []), ("u2", 400, []), ("u3", 100, [])])
    over = api(running, "GET", "/budget/status", user="u1").json()
    assert over["allowed"] is False and over["spent_exact"] == "0.00012" and over["crossed"] == [50, 100]
    assert over["budgets"][0]["value"] == "u1" and over["budgets"][0]["per"] == "user"
    under = api(running, "GET", "/budget/status", user="u2").json()
    assert under["allowed"] is True and under["spent_exact"] == "0.00006" and under["crossed"] == [50]
    fresh = api(running, "GET", "/budget/status", user="nobody-yet").json()
    assert fresh["allowed"] is True and fresh["spent_exact"] == "0"
    bare = api(running, "GET", "/budget/status").json()
    assert bare["allowed"] is True and bare["budgets"] == [] and "user=" in bare["reason"]
    assert bare["not_applicable"][0]["per"] == "user" and "pass user=" in bare["not_applicable"][0]["note"]
    run_detectors(running, "alerts")
    run_detectors(running, "alerts")  # each threshold is announced once per user and period
    received = receiver.wait_for(3)
    assert len(settled_deliveries(running, f"/channels/{hook}/deliveries", 3)) == 3
    assert sorted((r.json()["scope"]["user"], r.json()["threshold"]) for r in received) == [
        ("u1", 50.0), ("u1", 100.0), ("u2", 50.0)]
    titles = sorted(i["title"] for i in api(running, "GET", "/alerts").json())
    assert titles == [f"Budget {pct}% of ${AMOUNT} per user per month reached by {user}"
                      for pct, user in (("100", "u1"), ("50", "u1"), ("50", "u2"))]


def test_warnings_are_bounded_per_tick(running: Running, receiver: Receiver,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(detector, "MAX_VALUES_ANNOUNCED", 1)
    per_user_budget(running, receiver)
    send(running, [("u1", 800, []), ("u2", 400, []), ("u3", 400, [])])
    run_detectors(running, "alerts")
    run_detectors(running, "alerts")
    titles = sorted(i["title"] for i in api(running, "GET", "/alerts").json())
    assert len(titles) == 3, titles  # u1 at 50% and 100%, then one incident counting the other two
    assert sum("2 more user(s)" in t for t in titles) == 1 and sum("reached by u1" in t for t in titles) == 2


def test_budget_per_tag(running: Running) -> None:
    body = {"amount_usd": AMOUNT, "period": "month", "per": "tag", "filters": {"model": "gpt-4o-mini"}}
    assert api(running, "POST", "/budgets", body).status_code == 201
    send(running, [("u1", 400, ["beta"]), ("u2", 400, ["beta", "eu"]), ("u3", 400, ["eu"])])
    beta = api(running, "GET", "/budget/status", tag="beta").json()
    assert beta["allowed"] is False and beta["spent_exact"] == "0.00012"
    eu = api(running, "GET", "/budget/status", tag="eu", user="u3").json()
    assert eu["allowed"] is False and eu["budgets"][0]["value"] == "eu"
    other_model = api(running, "GET", "/budget/status", tag="beta", model="gpt-4o").json()
    assert other_model["allowed"] is True and other_model["budgets"] == []


@pytest.mark.parametrize(("patch", "message"), [
    ({"per": "team"}, "per 'team' is not accepted"),
    ({"per": "user", "filters": {"user": "u1"}}, "conflicts with filters.user"),
    ({"per": 3}, "is not accepted"),
])
def test_bad_per_is_refused(running: Running, patch: dict, message: str) -> None:
    response = api(running, "POST", "/budgets", {"amount_usd": 5, "period": "month", **patch})
    assert response.status_code == 400 and response.json()["field"] == "per", response.text
    assert message in response.json()["error"]
    assert api(running, "GET", "/budgets").json()["budgets"] == []


def test_spend_rollup_answers_as_the_raw_calls_do(running: Running) -> None:
    """Hours rolled up by the metrics detector and the raw tail give each user's spend, as raw calls do."""
    from detectors.alerts.budget_spend import _spend_whole
    from schemas.clickhouse.rollup import rollup_span
    from schemas.clickhouse.spend_rollup import SpendQuery, spend_by_value
    from schemas.metadata.runs import StateStore

    now = datetime.now(UTC)
    month = period_bounds("month", now)[0]
    assert api(running, "POST", "/budgets", {"amount_usd": 1, "period": "month", "per": "user"}).status_code == 201
    provider = TracerProvider(resource=Resource.create({"service.name": "support-bot"}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=running.otlp_url + "/v1/traces")))
    tracer = provider.get_tracer("test.budgets", "1.0")
    for i, (ago, user) in enumerate([(180, "u1"), (150, "u1"), (120, "u2"), (61, "u2"), (1, "u1"), (30, "u3")]):
        start = int(max(month, now - timedelta(minutes=ago)).timestamp() * 1e9)
        model = ("gpt-4o-mini", "gpt-4o")[i % 2]
        span = tracer.start_span(f"chat {model}", kind=SpanKind.CLIENT, start_time=start)
        span.set_attributes({"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                             "gen_ai.request.model": model, "gen_ai.usage.input_tokens": 400 * (i + 1),
                             "gen_ai.usage.output_tokens": 0, "user.id": user, "gen_ai.response.id": f"r-{i}",
                             "langfuse.trace.tags": ["beta"]})
        span.end(end_time=start + 300_000_000)
    provider.shutdown()
    running.flush()
    run_detectors(running, "metrics")
    store = running.service.store
    rows = store.query("SELECT count() FROM {db}.call_spend_hour FINAL WHERE calls > 0", {}, "test_spend_rows")
    assert rows[0][0] > 0
    rollup = rollup_span(StateStore(running.service.metadata))
    assert rollup is not None and rollup.spend_start is not None
    for per in ("user", "tag"):
        for model in (None, "gpt-4o", "gpt-4o-mini"):
            query = SpendQuery("default", per, month, now, model)
            assert spend_by_value(store, query, _spend_whole(rollup)) == spend_by_value(store, query, None)
    raw = dict(spend_by_value(store, SpendQuery("default", "user", month, now), None))
    for user in ("u1", "u2", "u3"):
        status = api(running, "GET", "/budget/status", user=user).json()
        assert status["spent_exact"].rstrip("0").rstrip(".") == format(raw[user].normalize(), "f"), (user, status)


def test_an_upgrade_fills_the_spend_rollup_a_day_a_run(running: Running) -> None:
    """Hours rolled up before migration 0017 get their spend per user today first, then a day a run."""
    from detectors.alerts.budget_spend import _spend_whole
    from schemas.clickhouse.rollup import SPEND_KEY, rollup_span
    from schemas.clickhouse.spend_rollup import SpendQuery, spend_by_value
    from schemas.metadata.runs import StateStore
    from tests.spans import Call

    now, store, state = datetime.now(UTC), running.service.store, StateStore(running.service.metadata)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    yesterday_noon = int((midnight - timedelta(hours=12)).timestamp() * 1e9)
    running.send_calls(Call(1, start_ns=yesterday_noon, user="u1", input_tokens=4000),
                       Call(2, start_ns=int((now - timedelta(minutes=1)).timestamp() * 1e9), user="u1"))
    run_detectors(running, "metrics")
    run_detectors(running, "metrics")  # the rollup's backfill reaches yesterday
    store.query("TRUNCATE TABLE {db}.call_spend_hour", {}, "test_truncate")  # as before migration 0017
    state.set(SPEND_KEY, "")
    assert rollup_span(state).spend_start is None  # nothing trusted: raw calls answer
    query = SpendQuery("default", "user", midnight - timedelta(days=2), now)
    raw = spend_by_value(store, query, None)
    run_detectors(running, "metrics")
    assert rollup_span(state).spend_start == midnight
    assert spend_by_value(store, query, _spend_whole(rollup_span(state))) == raw
    run_detectors(running, "metrics")
    assert rollup_span(state).spend_start <= midnight - timedelta(days=1)
    assert spend_by_value(store, query, _spend_whole(rollup_span(state))) == raw
    hours = store.query("SELECT count() FROM {db}.call_spend_hour FINAL WHERE calls > 0 AND request_model = '' "
                        "AND dimension = 'user' AND bucket < "
                        "{m:DateTime('UTC')}", {"m": midnight}, "test_spend_rows")
    assert hours[0][0] == 1  # yesterday's call, filled by the second run
