"""A/B cohorts by a declared key read from the per-hour rollup (`cohort_hour`, kept by the
cohort-rollup detector) answer what a scan of every call answers; spans sent again or late count
once after the detector's next run; other keys, filters and windows without a whole rolled hour
scan. Spans come through the real OpenTelemetry SDK exporter, and the detector runs through the API.

Calls are placed in the hours before the test's own hour (a rolled hour must have ended 15 minutes
before the detector runs), so the answers do not depend on when the test runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.trace import SpanKind, Status, StatusCode

from schemas.clickhouse.cohorts import SAMPLE_SEED, SAMPLE_SIZE, Cohorts, cohort_calls
from tests.conftest import Running, api, run_detectors

PROMPT_VERSION, RELEASE = "llmpulse.prompt.version", "service.version"
# v2 (release 1.5.0) answers slower, longer and fails more often; an unpriced fine-tune serves some calls.
VERSIONS = {"v1": {"release": "1.4.0", "latency_ms": 400, "error_every": 9},
            "v2": {"release": "1.5.0", "latency_ms": 700, "error_every": 3}}
MODELS = ("gpt-4o-mini", "gpt-4o", "ft:acme-support")
HOURS = 5  # of traffic, ending with the hour before the test's own
PER_HOUR = 6  # calls per version and hour, at :01, :08, ... :36
BEFORE_WINDOW = 3  # calls of the first hour before the window (which starts at :20)
SCORED = 12  # the first calls of each version


@dataclass
class Traffic:
    spans: dict[str, list[ReadableSpan]]  # per version, as exported (to send again)
    base: datetime  # the first hour with calls
    now: datetime

    @property
    def window(self) -> dict[str, str]:
        """From 20 minutes into the first hour to a minute from now: both edges mid-hour."""
        return {"from": (self.base + timedelta(minutes=20)).isoformat(),
                "to": (self.now + timedelta(minutes=1)).isoformat()}


def chat_spans(version: str, starts: list[datetime], extra: dict[str, str] | None = None) -> list[ReadableSpan]:
    """Chat calls of one prompt version from its release, ended, not yet exported."""
    facts = VERSIONS[version]
    resource = Resource.create({"service.name": "support-bot", RELEASE: facts["release"]})
    tracer, spans = TracerProvider(resource=resource).get_tracer("test.rollup", "1.0"), []
    for i, begin in enumerate(starts):
        model = MODELS[i % len(MODELS)]
        span = tracer.start_span(f"chat {model}", kind=SpanKind.CLIENT, start_time=_nanos(begin))
        span.set_attributes({
            "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": model,
            "gen_ai.usage.input_tokens": 800, "gen_ai.usage.output_tokens": 30 + 3 * i + (40 if version == "v2" else 0),
            PROMPT_VERSION: version, "app.arm": f"arm-{version}", **(extra or {})})
        if i % facts["error_every"] == 0:
            span.set_status(Status(StatusCode.ERROR, "500 upstream"))
        span.end(end_time=_nanos(begin + timedelta(milliseconds=facts["latency_ms"] + 11 * i)))
        spans.append(span)
    return spans


def _nanos(moment: datetime) -> int:
    return int(moment.timestamp() * 1e9)


def export(running: Running, spans: list[ReadableSpan]) -> None:
    exporter = OTLPSpanExporter(endpoint=running.otlp_url + "/v1/traces")
    assert exporter.export(spans).name == "SUCCESS"
    running.flush()


@pytest.fixture
def traffic(running: Running) -> Traffic:
    """PER_HOUR calls of each version in each of the HOURS hours before this one (some a minute
    before the hour ends), and one a minute ago; a score for some."""
    now = datetime.now(UTC)
    base = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=HOURS)
    starts = [base + timedelta(hours=h, minutes=7 * m + 1) for h in range(HOURS) for m in range(PER_HOUR)]  # :01-:36
    spans = {version: chat_spans(version, [*starts, now - timedelta(minutes=1)]) for version in VERSIONS}
    for version_spans in spans.values():
        export(running, version_spans)
    for version, liked in (("v1", 1.0), ("v2", 0.0)):
        for n, span in enumerate(spans[version][:SCORED]):
            ids = {"trace_id": format(span.context.trace_id, "032x"), "span_id": format(span.context.span_id, "016x")}
            label = "hallucinated" if version == "v2" and n % 2 else "grounded"
            for body in ({"name": "user_feedback", "value": liked if n % 4 else 1 - liked},
                         {"name": "hallucination", "label": label}):
                assert api(running, "POST", "/scores", {**ids, **body}).status_code == 201
    return Traffic(spans, base, now)


def compare(running: Running, window: dict[str, str], **params: str) -> dict:
    response = api(running, "GET", "/compare", **window, **params)
    assert response.status_code == 200, response.text
    return response.json()


def same_answer(rolled: dict, scanned: dict) -> None:
    """Both cohorts alike in every figure; the tests alike (each cohort's sample holds all its values)."""
    assert (rolled["read"], scanned["read"]) == ("rollup", "scan")
    assert rolled["a"] == scanned["a"] and rolled["b"] == scanned["b"]
    for mine, theirs in zip(rolled["differences"], scanned["differences"], strict=True):
        assert mine == {**theirs, **{k: pytest.approx(v) for k, v in theirs.items() if isinstance(v, float)}}


def test_declared_keys_answer_from_the_rollup_as_a_scan_does(running: Running, traffic: Traffic) -> None:
    calls = HOURS * PER_HOUR + 1
    scanned = {key: compare(running, traffic.window, attribute=key, a=a, b=b)
               for key, a, b in ((PROMPT_VERSION, "v1", "v2"), (RELEASE, "1.4.0", "1.5.0"))}
    (run,) = run_detectors(running, "cohort_rollup")
    assert run["rows_written"] >= HOURS and "default: " in run["message"]
    for key, a, b in ((PROMPT_VERSION, "v1", "v2"), (RELEASE, "1.4.0", "1.5.0")):
        rolled = compare(running, traffic.window, attribute=key, a=a, b=b)
        same_answer(rolled, scanned[key])
    answer = compare(running, traffic.window, attribute=PROMPT_VERSION, a="v1", b="v2")
    assert (answer["a"]["requests"], answer["b"]["requests"]) == (calls - BEFORE_WINDOW, calls - BEFORE_WINDOW)
    assert answer["a"]["cost"]["unpriced_requests"] > 0 and answer["a"]["cost"]["priced_requests"] > 0
    assert answer["b"]["hallucination"]["scored"] == SCORED - BEFORE_WINDOW
    assert answer["a"]["feedback"]["user_feedback"]["count"] == SCORED - BEFORE_WINDOW
    latency = {d["metric"]: d for d in answer["differences"]}["latency_ms"]
    assert latency["p_value"] < 1e-6 and latency["effect"] > 0.9
    rows = running.service.store.query("SELECT count(), sum(requests) FROM {db}.cohort_hour FINAL WHERE requests > 0",
                                       {}, "test")[0]
    assert rows[0] >= 2 * 2 * (HOURS - 1) and rows[1] >= 2 * 2 * PER_HOUR * (HOURS - 1)  # two keys, two values


def test_late_and_redelivered_spans_count_once_after_the_detector_reruns(running: Running, traffic: Traffic) -> None:
    run_detectors(running, "cohort_rollup")
    export(running, traffic.spans["v1"][:10])  # an exporter's retry: the same spans again
    late = chat_spans("v1", [traffic.base + timedelta(hours=2, minutes=30)])  # into an hour already rolled
    export(running, late)
    calls = HOURS * PER_HOUR + 1 - BEFORE_WINDOW
    stale = compare(running, traffic.window, attribute=PROMPT_VERSION, a="v1", b="v2")
    assert stale["a"]["requests"] == calls  # the rolled hour is as its last computation left it
    (run,) = run_detectors(running, "cohort_rollup")
    assert run["rows_read"] >= 11  # and those ingested just before the first run (the overlap)
    rolled = compare(running, traffic.window, attribute=PROMPT_VERSION, a="v1", b="v2")
    assert rolled["read"] == "rollup"
    assert (rolled["a"]["requests"], rolled["b"]["requests"]) == (calls + 1, calls)
    forced = forced_scan(running, traffic, PROMPT_VERSION, "v1", "v2")
    assert {side: forced[side]["requests"] for side in "ab"} == {"a": calls + 1, "b": calls}
    assert rolled["a"]["cost"]["total_exact"] == format(forced["a"]["cost_total"].normalize(), "f")
    run_detectors(running, "cohort_rollup")  # hours recomputed again (the overlap) stay as they were
    assert compare(running, traffic.window, attribute=PROMPT_VERSION, a="v1", b="v2")["a"] == rolled["a"]


def forced_scan(running: Running, traffic: Traffic, key: str, a: str, b: str) -> dict:
    """The scan's read of the same comparison, in process (the API reads the rollup)."""
    window = traffic.window
    cohorts = Cohorts("default", datetime.fromisoformat(window["from"]), datetime.fromisoformat(window["to"]),
                      key, a, b, {})
    return cohort_calls(running.service.store, cohorts)


def test_undeclared_keys_filters_and_columns_scan(running: Running, traffic: Traffic) -> None:
    run_detectors(running, "cohort_rollup")
    window = traffic.window
    assert compare(running, window, attribute="app.arm", a="arm-v1", b="arm-v2")["read"] == "scan"
    filtered = compare(running, window, attribute=PROMPT_VERSION, a="v1", b="v2", model="gpt-4o")
    in_window = range(BEFORE_WINDOW, HOURS * PER_HOUR + 1)  # the calls' indexes; gpt-4o serves every third
    assert filtered["read"] == "scan" and filtered["a"]["requests"] == sum(1 for i in in_window if i % 3 == 1)
    assert compare(running, window, attribute="model", a="gpt-4o", b="gpt-4o-mini")["read"] == "scan"
    inside_an_hour = {"from": (traffic.base + timedelta(hours=1)).isoformat(),
                      "to": (traffic.base + timedelta(hours=1, minutes=50)).isoformat()}
    short = compare(running, inside_an_hour, attribute=PROMPT_VERSION, a="v1", b="v2")
    assert short["read"] == "scan" and short["a"]["requests"] == PER_HOUR

    # Declaring the key rolls it up from the next run on; the keys no longer declared scan.
    scanned = compare(running, window, attribute="app.arm", a="arm-v1", b="arm-v2")
    response = api(running, "PUT", "/projects/default", {"cohort_keys": ["app.arm"]})
    assert response.status_code == 200 and response.json()["cohort_keys"] == ["app.arm"]
    run_detectors(running, "cohort_rollup")
    same_answer(compare(running, window, attribute="app.arm", a="arm-v1", b="arm-v2"), scanned)
    assert compare(running, window, attribute=PROMPT_VERSION, a="v1", b="v2")["read"] == "scan"


def test_history_is_backfilled_a_day_per_run_and_read_raw_until_then(running: Running, traffic: Traffic) -> None:
    """History the rollup does not hold yet is read from raw spans: the answer is whole meanwhile."""
    days_ago = [traffic.base.replace(hour=12) - timedelta(days=d) for d in (1, 2, 3)]
    export(running, chat_spans("v1", days_ago) + chat_spans("v2", days_ago))
    week = {"from": (traffic.now - timedelta(days=7)).isoformat(), "to": traffic.window["to"]}
    scanned = compare(running, week, attribute=RELEASE, a="1.4.0", b="1.5.0")
    assert scanned["a"]["requests"] == HOURS * PER_HOUR + 1 + 3
    for _ in range(4):  # today and yesterday, then a day further back each run (4: the test's hour may be 00:xx)
        run_detectors(running, "cohort_rollup")
        same_answer(compare(running, week, attribute=RELEASE, a="1.4.0", b="1.5.0"), scanned)
    stored = running.service.store.query(
        "SELECT min(bucket) FROM {db}.cohort_hour FINAL WHERE key = {k:String} AND requests > 0",
        {"k": RELEASE}, "test")[0][0]
    assert stored.replace(tzinfo=UTC) <= days_ago[-1]


def test_the_table_keeps_the_comparisons_reservoirs(running: Running) -> None:
    """The migration's sample states are those `cohorts` draws (size and seed), or they would not merge."""
    types = dict(running.service.store.query(
        "SELECT name, type FROM system.columns WHERE database = {db:String} AND table = 'cohort_hour'",
        {"db": running.service.store.database}, "test"))
    expected = f"AggregateFunction(groupArraySample({SAMPLE_SIZE}, {SAMPLE_SEED}), Float64)"
    assert {types[name] for name in ("latency_sample", "ttft_sample", "output_tokens_sample", "cost_sample")} == {
        expected}


@pytest.mark.parametrize(("keys", "message"), [
    ("service.version", "must be a list"),
    (["model"], "names a column"),
    (["tag"], "names a column"),
    (["a", "a"], "given twice"),
    ([" padded"], "not an attribute key"),
    ([""], "not an attribute key"),
    ([f"k{i}" for i in range(21)], "at most 20"),
])
def test_cohort_keys_are_checked_before_anything_is_stored(running: Running, keys: object, message: str) -> None:
    response = api(running, "PUT", "/projects/default", {"cohort_keys": keys, "retention_days": 9})
    assert response.status_code == 400 and message in response.json()["error"], response.text
    project = api(running, "GET", "/projects/default").json()
    assert project["retention_days"] == 30 and PROMPT_VERSION in project["cohort_keys"]


def test_cohort_keys_default_and_reset(running: Running) -> None:
    project = api(running, "GET", "/projects/default").json()
    assert project["cohort_keys"][:1] == [PROMPT_VERSION] and RELEASE in project["cohort_keys"]
    assert api(running, "PUT", "/projects/default", {"cohort_keys": []}).json()["cohort_keys"] == []
    assert api(running, "PUT", "/projects/default", {"retention_days": 10}).json()["cohort_keys"] == []
    assert api(running, "PUT", "/projects/default", {"cohort_keys": None}).json()["cohort_keys"] == project[
        "cohort_keys"]
