"""GET /api/v1/compare: A/B cohorts of live calls, driven by the real OpenTelemetry SDK exporter.

Two prompt versions (span attribute `llmpulse.prompt.version`) served by two app releases
(resource attribute `service.version`): v2 answers slower and fails more often, and users like it
less. Models alternate across both, so a comparison by model finds no latency difference.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

from tests.conftest import Running, api

START = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
WINDOW = {"from": "2026-11-20T09:00:00Z", "to": "2026-11-20T12:00:00Z"}
CALLS = 40  # per prompt version
VERSIONS = {"v1": {"release": "1.4.0", "latency_ms": 400, "error_every": 20},  # 2 errors of 40
            "v2": {"release": "1.5.0", "latency_ms": 900, "error_every": 2}}  # 20 errors of 40


def nanos(moment: datetime) -> int:
    return int(moment.timestamp() * 1e9)


def send_version(running: Running, version: str, environment: str = "production",
                 extra: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """CALLS chat calls of one prompt version from its release; returns their (trace id, span id)."""
    facts = VERSIONS[version]
    provider = TracerProvider(resource=Resource.create({"service.name": "support-bot", "service.version": facts[
        "release"], "deployment.environment": environment}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=running.otlp_url + "/v1/traces")))
    tracer, ids = provider.get_tracer("test.ab", "1.0"), []
    for i in range(CALLS):
        begin = START + timedelta(seconds=10 * i + (0 if version == "v1" else 5))
        model = ("gpt-4o-mini", "gpt-4o")[i % 2]
        span = tracer.start_span(f"chat {model}", kind=SpanKind.CLIENT, start_time=nanos(begin))
        span.set_attributes({
            "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": model,
            "gen_ai.response.id": f"chatcmpl-{version}-{i}", "gen_ai.usage.input_tokens": 500,
            "gen_ai.usage.output_tokens": 40 + i, "llmpulse.prompt.version": version, **(extra or {})})
        if i % facts["error_every"] == 0:
            span.set_status(Status(StatusCode.ERROR, "500 upstream"))
        span.end(end_time=nanos(begin + timedelta(milliseconds=facts["latency_ms"] + 7 * i)))
        context = span.get_span_context()
        ids.append((format(context.trace_id, "032x"), format(context.span_id, "016x")))
    provider.shutdown()
    return ids


@pytest.fixture
def ab_traffic(running: Running) -> dict[str, list[tuple[str, str]]]:
    ids = {version: send_version(running, version) for version in VERSIONS}
    running.flush()
    for version, liked in (("v1", 1.0), ("v2", 0.0)):
        for n, (trace_id, span_id) in enumerate(ids[version][:20]):
            feedback = {"trace_id": trace_id, "span_id": span_id, "name": "user_feedback",
                        "value": liked if n % 5 else 1.0 - liked}
            assert api(running, "POST", "/scores", feedback).status_code == 201
            label = "hallucinated" if (version == "v2" and n % 2 == 0) else "grounded"
            verdict = {"trace_id": trace_id, "span_id": span_id, "name": "hallucination", "label": label}
            assert api(running, "POST", "/scores", verdict).status_code == 201
    return ids


def score(running: Running, ids: list[tuple[str, str]], liked: float, label: str) -> None:
    """Feedback and a hallucination verdict for each call of `ids`."""
    for trace_id, span_id in ids:
        for body in ({"name": "user_feedback", "value": liked}, {"name": "hallucination", "label": label}):
            response = api(running, "POST", "/scores", {"trace_id": trace_id, "span_id": span_id, **body})
            assert response.status_code == 201, response.text


def compare(running: Running, **params: str) -> dict:
    response = api(running, "GET", "/compare", **{**WINDOW, **params})
    assert response.status_code == 200, response.text
    return response.json()


def by_metric(answer: dict) -> dict[str, dict]:
    return {d["metric"]: d for d in answer["differences"]}


def test_prompt_versions_differ_in_latency_errors_feedback_and_hallucinations(running: Running, ab_traffic) -> None:
    answer = compare(running, attribute="llmpulse.prompt.version", a="v1", b="v2")
    assert answer["attribute_kind"] == "attribute" and "note" not in answer
    assert (answer["a"]["requests"], answer["b"]["requests"]) == (CALLS, CALLS)
    assert (answer["a"]["errors"], answer["b"]["errors"]) == (2, 20)
    assert answer["a"]["latency_ms"]["p50"] < 700 < answer["b"]["latency_ms"]["p50"]
    diffs = by_metric(answer)
    latency = diffs["latency_ms"]
    assert latency["test"] == "mann-whitney" and latency["p_value"] < 1e-6
    assert latency["effect"] > 0.9 and latency["common_language"] > 0.95  # b is slower nearly always
    errors = diffs["error_rate"]
    assert (errors["a"], errors["b"]) == (0.05, 0.5) and errors["p_value"] < 0.001
    assert errors["difference"] == pytest.approx(0.45) and errors["ratio"] == pytest.approx(10)
    feedback = diffs["feedback:user_feedback"]
    assert (feedback["a"], feedback["b"]) == (pytest.approx(0.8), pytest.approx(0.2))
    assert feedback["effect"] < 0 and feedback["p_value"] < 0.01
    assert answer["b"]["hallucination"] == {"scored": 20, "flagged": 10, "rate": 0.5}
    assert diffs["hallucination_rate"]["p_value"] < 0.01 and diffs["hallucination_rate"]["effect"] == 0.5
    assert all(d["p_adjusted"] >= d["p_value"] for d in answer["differences"] if d["p_value"] is not None)


def test_cohorts_by_model_and_by_a_resource_attribute(running: Running, ab_traffic) -> None:
    models = compare(running, attribute="model", a="gpt-4o-mini", b="gpt-4o")
    assert models["attribute_kind"] == "column"
    assert (models["a"]["requests"], models["b"]["requests"]) == (CALLS, CALLS)
    assert by_metric(models)["latency_ms"]["p_value"] > 0.05  # both models serve both versions
    releases = compare(running, attribute="service.version", a="1.4.0", b="1.5.0")
    assert (releases["a"]["errors"], releases["b"]["errors"]) == (2, 20)
    assert by_metric(releases)["latency_ms"]["effect"] > 0.9
    # The filters of every read apply to both cohorts.
    filtered = compare(running, attribute="service.version", a="1.4.0", b="1.5.0", model="gpt-4o")
    assert (filtered["a"]["requests"], filtered["b"]["requests"]) == (CALLS // 2, CALLS // 2)


def test_a_value_without_calls_is_an_empty_cohort_and_a_note(running: Running, ab_traffic) -> None:
    answer = compare(running, attribute="llmpulse.prompt.version", a="v1", b="v3")
    empty = answer["b"]
    assert empty["requests"] == 0 and empty["error_rate"] is None and empty["latency_ms"] == {"p50": None,
                                                                                            "p95": None}
    assert empty["cost"]["per_request"] is None and empty["hallucination"]["rate"] is None
    assert "cohort b" in answer["note"] and "'v3'" in answer["note"]
    assert all(d["p_value"] is None for d in answer["differences"])
    earlier = compare(running, attribute="model", a="gpt-4o", b="gpt-4o-mini",
                      **{"from": "2026-11-19T00:00:00Z", "to": "2026-11-19T01:00:00Z"})
    assert earlier["a"]["requests"] == earlier["b"]["requests"] == 0 and "either" in earlier["note"]


@pytest.mark.parametrize(("params", "message"), [
    ({"a": "v1", "b": "v2"}, "attribute= is required"),
    ({"attribute": "llmpulse.prompt.version", "b": "v2"}, "a= is required"),
    ({"attribute": "llmpulse.prompt.version", "a": "v1"}, "b= is required"),
    ({"attribute": "model", "a": "gpt-4o", "b": "gpt-4o"}, "both 'gpt-4o'"),
    ({"attribute": "model", "a": "x", "b": "y", "shadow": "1"}, "unknown parameter 'shadow'"),
])
def test_bad_input_is_a_400_naming_it(running: Running, params: dict, message: str) -> None:
    response = api(running, "GET", "/compare", **params)
    assert response.status_code == 400 and message in response.json()["error"], response.text


def test_an_attribute_key_is_bound_never_spliced_into_sql(running: Running, ab_traffic) -> None:
    odd = "x') OR 1=1 --"
    answer = compare(running, attribute=odd, a="v1", b="'; DROP TABLE spans; --")
    assert answer["a"]["requests"] == answer["b"]["requests"] == 0
    assert compare(running, attribute="llmpulse.prompt.version", a="v1", b="v2")["a"]["requests"] == CALLS


def test_experiment_calls_and_their_scores_stay_out_of_live_cohorts(running: Running, ab_traffic) -> None:
    """An experiment replays v1 through the same service: its calls (environment "experiment",
    `evals.runner`'s) are not live traffic, nor are the scores given to them."""
    replayed = send_version(running, "v1", environment="experiment")
    running.flush()
    score(running, replayed, liked=0.0, label="hallucinated")
    versions = compare(running, attribute="llmpulse.prompt.version", a="v1", b="v2")
    assert (versions["a"]["requests"], versions["a"]["errors"]) == (CALLS, 2)
    assert versions["a"]["hallucination"] == {"scored": 20, "flagged": 0, "rate": 0.0}
    assert versions["a"]["feedback"]["user_feedback"] == {"count": 20, "mean": pytest.approx(0.8)}
    # Model cohorts take their scores from the evaluations' own model, with no span lookup; the
    # answer must equal the lookup's (a filter forces it).
    models = compare(running, attribute="model", a="gpt-4o-mini", b="gpt-4o")
    looked_up = compare(running, attribute="model", a="gpt-4o-mini", b="gpt-4o", service="support-bot")
    assert (models["a"]["requests"], models["b"]["requests"]) == (CALLS, CALLS)
    for side in ("a", "b"):
        assert models[side]["hallucination"] == looked_up[side]["hallucination"]
        assert models[side]["feedback"] == looked_up[side]["feedback"]
    assert models["a"]["hallucination"] == {"scored": 20, "flagged": 10, "rate": 0.5}
    assert models["b"]["hallucination"] == {"scored": 20, "flagged": 0, "rate": 0.0}
    assert models["a"]["feedback"]["user_feedback"]["count"] == 20


def test_a_span_attribute_wins_over_its_resources(running: Running, ab_traffic) -> None:
    """A key in both maps (on some spans each): the span's own value counts where it has one."""
    send_version(running, "v1", extra={"service.version": "1.6.0"})  # resource says 1.4.0
    running.flush()
    answer = compare(running, attribute="service.version", a="1.4.0", b="1.6.0")
    assert (answer["a"]["requests"], answer["b"]["requests"]) == (CALLS, CALLS)
    assert compare(running, attribute="service.version", a="1.5.0", b="1.6.0")["a"]["requests"] == CALLS


def test_shadow_calls_and_their_scores_stay_out_of_live_cohorts(running: Running, ab_traffic) -> None:
    """A candidate model answered v1's inputs in shadow (`llmpulse.shadow_of`): its answers never
    reached a user, so neither its calls nor their scores are live traffic, by attribute or by model."""
    shadows = send_version(running, "v1", extra={"llmpulse.shadow_of": "00000000000000ab"})
    running.flush()
    score(running, shadows, liked=0.0, label="hallucinated")
    versions = compare(running, attribute="llmpulse.prompt.version", a="v1", b="v2")
    assert (versions["a"]["requests"], versions["a"]["errors"]) == (CALLS, 2)
    assert versions["a"]["hallucination"] == {"scored": 20, "flagged": 0, "rate": 0.0}
    models = compare(running, attribute="model", a="gpt-4o-mini", b="gpt-4o")
    assert (models["a"]["requests"], models["b"]["requests"]) == (CALLS, CALLS)
    assert models["a"]["hallucination"] == {"scored": 20, "flagged": 10, "rate": 0.5}
