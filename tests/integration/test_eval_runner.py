"""The in-service runner against a local fake OpenAI-compatible endpoint, its spans exported by the
real OpenTelemetry SDK into a running llmpulse and read back through the API."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from detectors.outbound import RetryPolicy
from evals.runner import ItemOutcome, RunItem, RunTags, run_items
from evals.spans import CallRecord, OtlpSpanSink
from evals.target import ChatReply, Target
from schemas import experiment_fields as xf
from tests.conftest import Running
from tests.fake_openai import FakeOpenAI, answer, failing, invalid_json, not_json, slow, throttled
from tests.receiver import Receiver

TAGS = RunTags("geo-baseline", "geo", 3)
ANSWERED = CallRecord(Target("http://127.0.0.1:9/v1", "m"), [], ChatReply("a", "m", "", "stop", 1, 1), TAGS, 1,
                      1_700_000_000_000_000_000, 1_700_000_000_100_000_000)
FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05, timeout=5.0, deadline=10.0)


class ListSink:
    """A sink that keeps the calls, for tests about the calls rather than their spans."""

    def __init__(self) -> None:
        self.calls: list[CallRecord] = []
        self._lock = threading.Lock()

    def record(self, call: CallRecord) -> tuple[str, str]:
        with self._lock:
            self.calls.append(call)
            return f"{len(self.calls):032x}", f"{len(self.calls):016x}"


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as handle:
        yield handle


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def by_item(outcomes: list[ItemOutcome]) -> dict[int, ItemOutcome]:
    return {outcome.item_id: outcome for outcome in outcomes}


def test_each_call_is_an_llm_span_of_the_experiment_priced_like_production(running: Running,
                                                                            fake: FakeOpenAI) -> None:
    fake.set("Capital of France?", answer("Paris", served_model="gpt-4o-mini-2024-07-18"))
    fake.set("Q: Capital of Peru?", failing(500))
    target = Target(fake.url, "gpt-4o-mini", api_key="sk-test", system_prompt="Be brief.",
                    prompt_template="Q: {{input}}", temperature=0.0, max_tokens=32)
    items = [RunItem(1, [{"role": "user", "content": "Capital of {{country}}?"}], {"country": "France"}),
             RunItem(2, "Capital of Peru?", {})]
    sink = OtlpSpanSink(running.otlp_url, None)
    outcomes = by_item(run_items(target, items, TAGS, sink, concurrency=2, policy=FAST))
    assert sink.flush() and sink.lost == 0
    sink.close()
    running.flush()

    ok, failed = outcomes[1], outcomes[2]
    assert (ok.output, ok.error, ok.input_tokens, ok.response_model) == ("Paris", "", 5, "gpt-4o-mini-2024-07-18")
    assert failed.error.startswith("the endpoint answered HTTP 500 (3 attempts")
    assert (failed.output, failed.response_model, failed.input_tokens) == ("", "", None)
    sent = fake.received("Capital of France?")[0]
    assert (sent.path, sent.model, sent.authorization, sent.temperature, sent.max_tokens) == (
        "/v1/chat/completions", "gpt-4o-mini", "Bearer sk-test", 0.0, 32)
    assert sent.messages == [{"role": "system", "content": "Be brief."},
                             {"role": "user", "content": "Capital of France?"}]

    (span,) = running.get(f"/api/v1/traces/{ok.trace_id}").json()["spans"]
    assert (span["span_id"], span["name"], span["kind"], span["span_type"]) == (
        ok.span_id, "chat gpt-4o-mini", "client", "llm")
    assert (span["service_name"], span["environment"]) == ("llmpulse-experiments", "experiment")
    assert (span["request_model"], span["response_model"], span["provider"]) == (
        "gpt-4o-mini", "gpt-4o-mini-2024-07-18", "openai")
    assert (span["input_tokens"], span["output_tokens"]) == (5, 1)
    assert span["cost_source"] == "list_price"
    assert span["cost_total"] == pytest.approx((5 * 0.15 + 1 * 0.6) / 1e6)  # $0.15/M in, $0.60/M out
    assert span["duration_ms"] == pytest.approx(ok.latency_ms, abs=0.01)
    assert [m["content"] for m in span["input_messages"]] == ["Be brief.", "Capital of France?"]
    assert span["output_messages"][0]["content"] == "Paris"
    assert {key: span["attributes"][key] for key in (xf.EXPERIMENT_NAME, xf.DATASET_NAME, xf.DATASET_VERSION,
                                                     xf.ITEM_ID, xf.ITEM_OUTPUT)} == {
        xf.EXPERIMENT_NAME: "geo-baseline", xf.DATASET_NAME: "geo", xf.DATASET_VERSION: "3",
        xf.ITEM_ID: "1", xf.ITEM_OUTPUT: "Paris"}

    (error_span,) = running.get(f"/api/v1/traces/{failed.trace_id}").json()["spans"]
    assert (error_span["status_code"], error_span["error_type"]) == ("error", "500")
    assert error_span["status_message"] == failed.error
    assert failed.trace_id != ok.trace_id  # one trace per item


def test_the_sink_sends_the_ingest_key_as_a_bearer_token(receiver: Receiver) -> None:
    sink = OtlpSpanSink(receiver.url, "lp-ingest-key")
    sink.record(ANSWERED)
    assert sink.flush()
    (request,) = receiver.wait_for(1)
    headers = {name.lower(): value for name, value in request.headers.items()}
    assert (request.path, headers["authorization"]) == ("/v1/traces", "Bearer lp-ingest-key")


def test_a_collector_that_is_down_makes_flush_fail_within_its_timeout() -> None:
    sink = OtlpSpanSink(closed_port_url().removesuffix("/v1"), None, export_timeout_s=0.5, flush_timeout_s=5.0)
    trace_id, span_id = sink.record(ANSWERED)
    started = time.monotonic()
    assert not sink.flush()
    assert time.monotonic() - started < 5.0
    assert sink.lost == 1 and len(trace_id) == 32 and len(span_id) == 16
    sink.close()


def test_throttles_are_retried_after_their_retry_after_and_succeed(fake: FakeOpenAI) -> None:
    fake.set("q", throttled(2, "fine", retry_after="0"))
    (outcome,) = run_items(Target(fake.url, "m"), [RunItem(7, "q", {})], TAGS, ListSink(), concurrency=1,
                           policy=FAST)
    assert (outcome.output, outcome.error) == ("fine", "")
    assert len(fake.received("q")) == 3


def test_a_dead_slow_or_garbled_endpoint_ends_as_per_item_errors_in_bounded_time(fake: FakeOpenAI) -> None:
    fake.set("slow", slow(30.0))
    fake.set("garbage", not_json("<html>oops</html>"))
    fake.set("broken json", invalid_json())
    fake.set("always 503", failing(503))
    fake.set("throttled forever", throttled(100, "never"))
    fake.set("bad request", failing(400))
    items = [RunItem(i, q, {}) for i, q in enumerate(
        ["slow", "garbage", "broken json", "always 503", "throttled forever", "bad request", "fine"])]
    target = Target(fake.url, "m", timeout_s=0.3)
    started = time.monotonic()
    outcomes = by_item(run_items(target, items, TAGS, ListSink(), concurrency=8, policy=FAST))
    assert time.monotonic() - started < 10.0
    errors = {i: outcome.error for i, outcome in outcomes.items()}
    assert errors[0].startswith("the endpoint did not answer within 0.3 s (3 attempts")
    assert errors[1] == "the endpoint answered 200 with a body that is not JSON: '<html>oops</html>'"
    assert errors[2] == "" and outcomes[2].output == '{"answer": "Paris"'  # broken JSON is the scorers' to judge
    assert errors[3].startswith("the endpoint answered HTTP 503 (3 attempts")
    assert errors[4].startswith("the endpoint answered HTTP 429 (3 attempts")
    assert errors[5].startswith("the endpoint answered HTTP 400 (1 attempt ")
    assert errors[6] == "" and outcomes[6].output == "I don't know."
    templated = Target(fake.url, "m", prompt_template="{{input}} in {{lang}}, {{missing}}")
    (unrendered,) = run_items(templated, [RunItem(99, "fine", {"lang": "en"})], TAGS, ListSink(), concurrency=1)
    assert unrendered.error == ("template: template variable {{missing}} is not in the item's metadata "
                                "(it has: input, lang)")
    assert (unrendered.trace_id, unrendered.latency_ms) == ("", None)
    assert len(fake.requests) == 7 + 3 * 2  # the unrendered item made no call; 3 items were retried twice


def test_a_dead_endpoint_is_a_connection_error_per_item() -> None:
    sink = ListSink()
    outcomes = run_items(Target(closed_port_url(), "m"), [RunItem(1, "a", {}), RunItem(2, "b", {})], TAGS, sink,
                         concurrency=2, policy=FAST)
    assert [o.error.startswith("could not connect to the endpoint (3 attempts") for o in outcomes] == [True, True]
    assert [call.reply.error_type for call in sink.calls] == ["connection_error"] * 2


@pytest.mark.parametrize("concurrency", [1, 4])
def test_concurrency_is_bounded_and_every_item_reported_once(concurrency: int) -> None:
    with FakeOpenAI(latency=0.05) as fake:
        seen: list[int] = []
        items = [RunItem(i, f"q{i}", {}) for i in range(24)]
        outcomes = run_items(Target(fake.url, "m"), items, TAGS, ListSink(), concurrency=concurrency,
                             on_outcome=lambda o: seen.append(o.item_id), policy=FAST)
        assert fake.max_in_flight == concurrency
    assert [o.item_id for o in outcomes] == list(range(24)) and sorted(seen) == list(range(24))


def test_cancelling_stops_new_items_and_a_failing_callback_stops_nothing(fake: FakeOpenAI) -> None:
    cancelled, seen = threading.Event(), []

    def progress(outcome: ItemOutcome) -> None:
        seen.append(outcome.item_id)
        if len(seen) == 3:
            cancelled.set()
        raise RuntimeError("a progress bar bug")

    items = [RunItem(i, f"q{i}", {}) for i in range(20)]
    outcomes = run_items(Target(fake.url, "m"), items, TAGS, ListSink(), concurrency=1, on_outcome=progress,
                         cancelled=cancelled, policy=FAST)
    assert [o.item_id for o in outcomes] == [0, 1, 2] == seen
    assert len(fake.requests) == 3


def test_a_sink_that_fails_loses_the_trace_link_not_the_answer(fake: FakeOpenAI) -> None:
    class BrokenSink:
        def record(self, call: CallRecord) -> tuple[str, str]:
            raise OSError("disk full")

    fake.answer("q", "a")
    (outcome,) = run_items(Target(fake.url, "m"), [RunItem(1, "q", {})], TAGS, BrokenSink(), concurrency=1)
    assert (outcome.output, outcome.error, outcome.trace_id) == ("a", "", "")


def test_a_bad_concurrency_is_refused() -> None:
    for bad in (0, 257, 1.5, True):
        with pytest.raises(ValueError, match="concurrency must be an integer from 1 to 256"):
            run_items(Target("http://127.0.0.1:9/v1", "m"), [], TAGS, ListSink(), concurrency=bad)  # type: ignore[arg-type]


def test_received_requests_are_json_chat_completions(fake: FakeOpenAI) -> None:
    """The fake records what the target got, byte for byte a chat completions request."""
    run_items(Target(fake.url, "m"), [RunItem(1, "é?", {})], TAGS, ListSink(), concurrency=1)
    (request,) = fake.requests
    assert request.body == {"model": "m", "messages": [{"role": "user", "content": "é?"}]}
    assert request.headers["Content-Type"] == "application/json" and request.authorization is None


def test_each_worker_keeps_its_connection_to_the_endpoint(fake: FakeOpenAI) -> None:
    """A new connection per call would cost a TLS handshake per item against a real provider."""
    run_items(Target(fake.url, "m"), [RunItem(i, f"q{i}", {}) for i in range(12)], TAGS, ListSink(), concurrency=3)
    assert len(fake.requests) == 12 and len({r.client_port for r in fake.requests}) <= 3
