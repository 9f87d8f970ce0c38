"""The read API's query string: every endpoint refuses a parameter it does not take, and every
filter it takes narrows its answer, through real chDB and real HTTP."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask

from dashboard.params import accepted_params
from schemas.clickhouse.drift import insert_drift_events
from schemas.shadow_fields import SHADOW_OF_ATTRIBUTE
from tests.conftest import Running, api, make_settings, run_detectors, start_service
from tests.experiment_data import MAIN, PR, golden_set, record_experiment
from tests.receiver import Receiver
from tests.spans import Call

T = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)  # every call of the module's data, well inside the window
WINDOW = {"from": (T - timedelta(hours=1)).isoformat(), "to": (T + timedelta(hours=1)).isoformat()}
# Two calls (traces 1 and 2) that differ in every filter: (filter, value of trace 1, value of trace 2).
DIMENSIONS = [
    ("model", "gpt-4o-mini", "claude-3-5-haiku"),
    ("provider", "openai", "anthropic"),
    ("service", "checkout", "search"),
    ("environment", "prod", "staging"),
    ("user", "u-1", "u-2"),
    ("session", "s-1", "s-2"),
    ("tag", "alpha", "beta"),
]
# Routes outside /api/ that take no read-API parameters: the UI's pages and assets, login, probes, Prometheus.
NOT_API = {"/", "/<path:path>", "/login", "/logout", "/healthz", "/readyz", "/metrics", "/_dash-layout",
           "/_dash-dependencies", "/_dash-update-component", "/_reload-hash", "/_favicon.ico"}
NOT_API_PREFIXES = ("/_dash-component-suites/", "/assets/", "/static/")


def call(n: int, values: dict[str, str]) -> Call:
    return Call(n, model=values["model"], start_ns=int(T.timestamp() * 10**9) + n, service=values["service"],
                user=values["user"], session=values["session"], tags=(values["tag"],),
                extra={"gen_ai.provider.name": values["provider"],
                       "deployment.environment.name": values["environment"]})


@pytest.fixture(scope="module")
def two_calls(tmp_path_factory: pytest.TempPathFactory, chdb_dsn: str) -> Iterator[Running]:
    """Traces 1 and 2, one call each, each scored hallucinated; a drift event for each model."""
    running = start_service(make_settings(tmp_path_factory.mktemp("read-api"), chdb_dsn))
    for n in (1, 2):
        values = {name: (first, second)[n - 1] for name, first, second in DIMENSIONS}
        running.send_calls(call(n, values))
    for n in (1, 2):
        score = {"trace_id": f"{n:032x}", "name": "hallucination", "label": "hallucinated"}
        assert api(running, "POST", "/scores", score).status_code == 201
    insert_drift_events(running.service.store, [drift_event("gpt-4o-mini", "openai"),
                                                drift_event("claude-3-5-haiku", "anthropic")])
    yield running
    running.service.stop()


def drift_event(model: str, provider: str) -> dict:
    return {"project_id": "default", "event_id": model, "kind": "model_change", "request_model": model,
            "provider": provider, "from_value": "a", "to_value": "b", "changed_at": T, "detected_at": T,
            "features": [], "auc": None, "p_value": None, "baseline_n": 0, "current_n": 0, "summary": model}


def get(running: Running, path: str, **params: str) -> dict:
    response = running.get("/api/v1" + path, **{**WINDOW, **params})
    assert response.status_code == 200, (path, params, response.text)
    return response.json()


# Per filtered endpoint: which of traces 1 and 2 an answer covers.
def traces_listed(running: Running, **params: str) -> set[int]:
    return {int(t["trace_id"], 16) for t in get(running, "/traces", **params)["traces"]}


def flagged_listed(running: Running, **params: str) -> set[int]:
    return {int(s["trace_id"], 16) for s in get(running, "/quality/flagged", **params)["spans"]}


def summary_count(running: Running, **params: str) -> int:
    return get(running, "/metrics/summary", **params)["total"]["requests"]


def series_count(running: Running, **params: str) -> int:
    series = get(running, "/metrics/timeseries", metric="requests", bucket="hour", **params)["series"]
    return sum(p["requests"] for s in series for p in s["points"])


def hallucination_count(running: Running, **params: str) -> int:
    return get(running, "/quality/hallucination", **params)["total"]["sampled"]


@pytest.mark.parametrize(("name", "first", "second"), DIMENSIONS)
def test_each_filter_narrows_every_filtered_endpoint(two_calls: Running, name: str, first: str, second: str) -> None:
    for value, trace in ((first, 1), (second, 2)):
        assert traces_listed(two_calls, **{name: value}) == {trace}, (name, value)
        assert flagged_listed(two_calls, **{name: value}) == {trace}, (name, value)
        assert summary_count(two_calls, **{name: value}) == 1, (name, value)
        assert series_count(two_calls, **{name: value}) == 1, (name, value)
        assert hallucination_count(two_calls, **{name: value}) == 1, (name, value)
    assert summary_count(two_calls, **{name: "neither"}) == 0
    assert traces_listed(two_calls, **{name: "neither"}) == set()


def test_without_a_filter_both_calls_are_counted(two_calls: Running) -> None:
    assert traces_listed(two_calls) == flagged_listed(two_calls) == {1, 2}
    assert summary_count(two_calls) == series_count(two_calls) == hallucination_count(two_calls) == 2
    by_service = get(two_calls, "/metrics/summary", group_by="service", model="gpt-4o-mini")
    assert [(g["key"], g["requests"]) for g in by_service["groups"]] == [({"service": "checkout"}, 1)]
    assert by_service["filters"] == {"model": "gpt-4o-mini"}


def test_drift_takes_the_model_and_provider_filters(two_calls: Running) -> None:
    def models(**params: str) -> list[str]:
        response = two_calls.get("/api/v1/drift", **{**WINDOW, **params})
        assert response.status_code == 200, response.text
        return sorted(e["model"] for e in response.json())

    assert models() == ["claude-3-5-haiku", "gpt-4o-mini"]
    assert models(model="gpt-4o-mini") == models(provider="openai") == ["gpt-4o-mini"]
    assert models(provider="anthropic") == ["claude-3-5-haiku"]
    refused = two_calls.get("/api/v1/drift", service="checkout")
    assert refused.status_code == 400
    assert refused.json()["error"] == ("unknown parameter 'service'; this endpoint takes: "
                                       "project, from, to, model, provider, kind")


def test_q_is_the_trace_search_and_text_its_alias(two_calls: Running) -> None:
    assert traces_listed(two_calls, q="CHAT CLAUDE") == traces_listed(two_calls, text="chat claude") == {2}
    assert traces_listed(two_calls, q="chat", text="chat") == {1, 2}
    both = two_calls.get("/api/v1/traces", q="chat", text="claude")
    assert both.status_code == 400 and both.json()["error"] == "q= and text= are the same parameter; give one"


def ui_app(running: Running) -> Flask:
    """A UI app made by the service's own factory: the routes the running one serves."""
    return running.service.ui_app()


def example_url(rule: str) -> str:
    """The rule with each variable filled in (ids need not exist: the parameter check comes first)."""
    return re.sub(r"<(?:int:)?(\w+)>", lambda m: "1" if m.group(0).startswith("<int:") else "0" * 32, rule)


def test_every_api_route_refuses_a_parameter_it_does_not_take(two_calls: Running) -> None:
    app = ui_app(two_calls)
    checked = 0
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            assert rule.rule in NOT_API or rule.rule.startswith(NOT_API_PREFIXES), f"new route {rule.rule}"
            continue
        accepted = accepted_params(app.view_functions[rule.endpoint])
        assert accepted is not None, f"{rule.rule} declares no parameters (dashboard.params.takes)"
        if "GET" not in (rule.methods or ()):
            continue
        response = two_calls.get(example_url(rule.rule), project="default", colour="blue")
        assert response.status_code == 400, (rule.rule, response.status_code, response.text)
        expected = f"unknown parameter 'colour'; this endpoint takes: {', '.join(accepted) or 'no parameters'}"
        assert response.json() == {"error": expected}, rule.rule
        if "project" not in accepted:
            refused = two_calls.get(example_url(rule.rule), project="default")
            assert refused.status_code == 400 and "'project'" in refused.json()["error"], rule.rule
        checked += 1
    assert checked >= 17  # the walk did see the whole read API (17 GET routes when written)


def test_the_budget_kill_switch_answers_for_a_calls_model_user_and_tag(running: Running) -> None:
    post(running, "/budgets", {"amount_usd": 0.000001, "period": "month", "filters": {"model": "gpt-4o-mini"}})
    post(running, "/budgets", {"amount_usd": 5, "period": "month", "filters": {"user": "u-1"}})
    running.send_calls(Call(9))  # $0.000021 now

    def status(**params: str) -> dict:
        response = running.get("/api/v1/budget/status", **params)
        assert response.status_code == 200, response.text
        return response.json()

    assert status()["allowed"] is False  # every budget speaks for a call the gateway says nothing about
    assert status(model="gpt-4o-mini")["allowed"] is False
    other = status(model="gpt-4o")
    assert other["allowed"] is True and [b["filters"] for b in other["budgets"]] == [{"user": "u-1"}]
    uncovered = status(model="gpt-4o", user="u-2")
    assert (uncovered["allowed"], uncovered["budgets"]) == (True, [])
    assert uncovered["reason"] == "no budget of this project covers this call"
    refused = running.get("/api/v1/budget/status", service="checkout")
    assert refused.status_code == 400
    assert refused.json()["error"] == ("unknown parameter 'service'; this endpoint takes: project, model, user, tag, "
                                       "ingest_key")


# An ISO-8601 time: its offset (Z or ±hh:mm) is group 1, absent in a naive one.
ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?")
HTTP_DATE = re.compile(r"[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT")  # Flask's default


def times_in(value: object, key: str = "") -> Iterator[tuple[str, str]]:
    """(key, text) of every string in a JSON answer that is a time."""
    if isinstance(value, dict):
        for name, item in value.items():
            yield from times_in(item, name)
    elif isinstance(value, list):
        for item in value:
            yield from times_in(item, key)
    elif isinstance(value, str) and (ISO_TIME.fullmatch(value) or HTTP_DATE.fullmatch(value)):
        yield key, value


def populate_every_read(running: Running, receiver: Receiver) -> dict[str, str]:
    """A call, a score, a drift event, a channel, a firing rule with its delivery, a budget, detector
    runs, a dataset, experiments: something with a time behind every read endpoint. Returns the ids
    the routes take."""
    running.send_calls(Call(1), Call(1, 2, extra={SHADOW_OF_ATTRIBUTE: f"{1:016x}"}))  # a call and its shadow
    score = {"trace_id": f"{1:032x}", "name": "hallucination", "label": "hallucinated"}
    assert api(running, "POST", "/scores", score).status_code == 201
    detected = datetime.now(UTC) - timedelta(minutes=5)  # the drift list's default window is 30 days
    insert_drift_events(running.service.store, [{**drift_event("gpt-4o-mini", "openai"), "changed_at": detected,
                                                 "detected_at": detected}])
    channel = post(running, "/channels", {"type": "webhook", "name": "hook", "url": receiver.url + "/hook"})
    rule = post(running, "/alert-rules", {"name": "any call", "metric": "cost_total", "comparator": ">=",
                                          "threshold": 0, "window": "1h", "for": "0s", "channels": [channel]})
    post(running, "/budgets", {"amount_usd": 5, "period": "day"})
    guard = post(running, "/guards", {"name": "any mini call", "metric": "cost_total", "comparator": ">=",
                                      "threshold": 0, "window": "1h", "filters": {"model": "gpt-4o-mini"}})  # opens
    slo = post(running, "/slos", {"name": "answers", "sli": "errors", "target": 0.99, "window": "28d"})
    run_detectors(running)
    receiver.wait_for(1)
    incident = next(a for a in running.get("/api/v1/alerts").json() if a["rule_id"] == rule)  # the guard's too
    assert api(running, "POST", "/datasets", {"name": "golden"}).status_code == 201
    assert api(running, "POST", "/datasets/golden/items", [{"input": "q"}]).status_code == 201
    app_run = {"name": "golden", "dataset": "golden", "runner": "app"}  # an experiment of the same name
    assert api(running, "POST", "/experiments", app_run).status_code == 201
    items = golden_set(running.service.metadata, name="regression-set")
    for name, outcomes in (("main", MAIN), ("pr", PR)):
        record_experiment(running.service.metadata, name, items, outcomes, dataset="regression-set")
    return {"trace_id": f"{1:032x}", "channel_id": str(channel), "rule_id": str(rule),
            "incident_id": str(incident["id"]), "name": "golden", "slo_id": str(slo), "guard_id": str(guard),
            "user_id": "u-1", "session_id": "s-1"}


def post(running: Running, path: str, body: dict) -> int:
    response = api(running, "POST", path, body)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def test_every_time_in_every_read_answer_carries_its_utc_offset(running: Running, receiver: Receiver) -> None:
    ids = populate_every_read(running, receiver)
    seen: dict[str, str] = {}
    for rule in ui_app(running).url_map.iter_rules():
        if not rule.rule.startswith("/api/") or "GET" not in (rule.methods or ()):
            continue
        path = re.sub(r"<(?:int:)?(\w+)>", lambda m: ids[m.group(1)], rule.rule)
        path = {"/api/v1/projects/<name>": "/api/v1/projects/default"}.get(rule.rule, path)  # a project's name
        extra = {"/api/v1/metrics/timeseries": {"metric": "requests", "bucket": "minute"},
                 "/api/v1/experiments/compare": {"baseline": "main", "candidate": "pr"},
                 "/api/v1/shadow": {"divergent": 1},
                 "/api/v1/compare": {"attribute": "model", "a": "gpt-4o-mini", "b": "gpt-4o"},
                 "/api/v1/guard/check": {"model": "gpt-4o"}}.get(rule.rule, {})  # a call no guard refuses
        response = running.get(path, **extra)
        assert response.status_code == 200, (path, response.text)
        for key, text in times_in(response.json()):
            assert ISO_TIME.fullmatch(text) and ISO_TIME.fullmatch(text).group(1), (path, key, text)
            seen[key] = path
    # The walk met the times that come from ClickHouse and from the metadata DB alike.
    assert {"t", "span_time", "start_time", "detected_at", "created_at", "started_at",
            "period_end"} <= set(seen), seen


def test_a_hallucination_rule_counts_only_the_spans_its_filters_name(running: Running) -> None:
    """The rule reads the same quality query as the API, filters and all (it once kept only `model`)."""
    for n, service, label in ((11, "checkout", "hallucinated"), (12, "search", "grounded")):
        running.send_calls(Call(n, service=service))
        score = {"trace_id": f"{n:032x}", "name": "hallucination", "label": label}
        assert api(running, "POST", "/scores", score).status_code == 201
    rule = {"metric": "hallucination_rate", "comparator": ">", "window": "1h", "for": "0s"}
    checkout = post(running, "/alert-rules", {**rule, "name": "checkout", "threshold": 0.9,
                                              "filters": {"service": "checkout"}})
    post(running, "/alert-rules", {**rule, "name": "search", "threshold": 0.1, "filters": {"service": "search"}})
    run_detectors(running, "alerts")
    assert [(a["rule_id"], a["value"]) for a in running.get("/api/v1/alerts").json()] == [(checkout, 1.0)]
