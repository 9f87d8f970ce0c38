"""The shared outbound retry policy, against a real local HTTP receiver (no mocked requests)."""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from detectors.outbound import RetryPolicy, backoff_delay, parse_retry_after, post_json
from tests.receiver import Receiver, Reply

FAST = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05, timeout=5.0, deadline=30.0)


class Sleeps:
    """An injected `sleep` that records the delays instead of waiting them out."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def closed_port_url() -> str:
    """A URL on a port that was free a moment ago and has nothing listening now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


def test_success_first_time_sends_json(receiver: Receiver) -> None:
    result = post_json(receiver.url + "/in", {"a": 1}, policy=FAST, sleep=Sleeps())
    assert (result.ok, result.status, result.attempts, result.error) == (True, 200, 1, "")
    assert receiver.requests[0].json() == {"a": 1}
    assert receiver.requests[0].path == "/in"
    assert receiver.requests[0].headers["Content-Type"] == "application/json"


def test_503_then_200_takes_two_attempts(receiver: Receiver) -> None:
    receiver.script = [Reply(503, b"busy"), Reply(200, b"ok")]
    sleeps = Sleeps()
    result = post_json(receiver.url, {"a": 1}, policy=FAST, sleep=sleeps)
    assert (result.ok, result.status, result.attempts, result.body) == (True, 200, 2, "ok")
    assert len(receiver.requests) == 2
    assert len(sleeps.delays) == 1 and 0 <= sleeps.delays[0] <= FAST.base_delay


def test_retry_after_seconds_is_honoured(receiver: Receiver) -> None:
    receiver.script = [Reply(503, headers={"Retry-After": "7"}), Reply(200)]
    sleeps = Sleeps()
    policy = RetryPolicy(attempts=3, max_delay=30.0, deadline=60.0)
    result = post_json(receiver.url, {}, policy=policy, sleep=sleeps)
    assert result.ok and result.attempts == 2
    assert sleeps.delays == [7.0]


def test_retry_after_is_capped_by_max_delay(receiver: Receiver) -> None:
    receiver.script = [Reply(429, headers={"Retry-After": "3600"}), Reply(200)]
    sleeps = Sleeps()
    result = post_json(receiver.url, {}, policy=RetryPolicy(max_delay=5.0, deadline=60.0), sleep=sleeps)
    assert result.ok and sleeps.delays == [5.0]


def test_retry_after_beyond_the_deadline_gives_up_without_sleeping(receiver: Receiver) -> None:
    receiver.default = Reply(429, b"slow down", headers={"Retry-After": "20"})
    sleeps = Sleeps()
    result = post_json(receiver.url, {}, policy=RetryPolicy(max_delay=30.0, deadline=10.0), sleep=sleeps)
    assert (result.ok, result.status, result.attempts) == (False, 429, 1)
    assert "429" in result.error and sleeps.delays == []


def test_429_is_retried(receiver: Receiver) -> None:
    receiver.script = [Reply(429, b"rate limited"), Reply(202, b"accepted")]
    result = post_json(receiver.url, {}, policy=FAST, sleep=Sleeps())
    assert (result.ok, result.status, result.attempts) == (True, 202, 2)


@pytest.mark.parametrize("status", [500, 501, 502, 504, 507, 599])
def test_server_errors_are_retried(receiver: Receiver, status: int) -> None:
    receiver.script = [Reply(status, b"oops")]
    sleeps = Sleeps()
    result = post_json(receiver.url, {}, policy=FAST, sleep=sleeps)
    assert (result.ok, result.status, result.attempts) == (True, 200, 2)
    assert len(receiver.requests) == 2 and len(sleeps.delays) == 1


def test_500_is_retried_until_the_attempts_run_out(receiver: Receiver) -> None:
    receiver.default = Reply(500, b"internal error")
    sleeps = Sleeps()
    result = post_json(receiver.url, {}, policy=FAST, sleep=sleeps)
    assert (result.ok, result.status, result.attempts) == (False, 500, FAST.attempts)
    assert result.error.startswith("HTTP 500") and "internal error" in result.error
    assert len(sleeps.delays) == FAST.attempts - 1


def test_500_with_retry_after_is_honoured(receiver: Receiver) -> None:
    receiver.script = [Reply(500, headers={"Retry-After": "4"})]
    sleeps = Sleeps()
    result = post_json(receiver.url, {}, policy=RetryPolicy(attempts=3, max_delay=30.0, deadline=60.0), sleep=sleeps)
    assert result.ok and result.attempts == 2 and sleeps.delays == [4.0]


def test_backoff_grows_exponentially_from_the_configured_base(receiver: Receiver) -> None:
    receiver.default = Reply(500)
    policy = RetryPolicy(attempts=6, base_delay=0.001, max_delay=1.0, deadline=30.0)
    sleeps = Sleeps()
    post_json(receiver.url, {}, policy=policy, sleep=sleeps)
    assert len(sleeps.delays) == 5
    assert all(0 <= d <= 0.001 * 2 ** i for i, d in enumerate(sleeps.delays)), sleeps.delays


def test_real_millisecond_backoff_keeps_a_retried_500_fast(receiver: Receiver) -> None:
    receiver.script = [Reply(500), Reply(500)]
    started = time.monotonic()
    result = post_json(receiver.url, {}, policy=RetryPolicy(attempts=3, base_delay=0.001, deadline=10.0))
    assert (result.ok, result.attempts) == (True, 3)
    assert time.monotonic() - started < 5  # a bound against the default 0.5 s base, not a benchmark


@pytest.mark.parametrize("status", [400, 401, 403, 404, 405, 409, 410, 413, 422])
def test_other_client_errors_are_permanent(receiver: Receiver, status: int) -> None:
    receiver.default = Reply(status, b'{"message": "invalid event"}')
    sleeps = Sleeps()
    result = post_json(receiver.url, {}, policy=FAST, sleep=sleeps)
    assert (result.ok, result.status, result.attempts) == (False, status, 1)
    assert result.error.startswith(f"HTTP {status}") and "invalid event" in result.error
    assert result.json() == {"message": "invalid event"}
    assert len(receiver.requests) == 1 and sleeps.delays == []


def test_attempts_are_capped(receiver: Receiver) -> None:
    receiver.default = Reply(503, b"down")
    sleeps = Sleeps()
    result = post_json(receiver.url, {}, policy=FAST, sleep=sleeps)
    assert (result.ok, result.status, result.attempts) == (False, 503, FAST.attempts)
    assert len(receiver.requests) == FAST.attempts
    assert len(sleeps.delays) == FAST.attempts - 1


def test_slow_receiver_times_out_within_the_deadline(receiver: Receiver) -> None:
    receiver.default = Reply(200, delay=3.0)
    policy = RetryPolicy(attempts=10, base_delay=0.05, max_delay=0.1, timeout=0.4, deadline=1.0)
    started = time.monotonic()
    result = post_json(receiver.url, {}, policy=policy)  # real sleeps: the deadline is wall time
    took = time.monotonic() - started
    assert not result.ok and result.status is None
    assert "Timeout" in result.error
    assert result.attempts >= 2
    assert took < policy.deadline + 0.3, f"took {took:.2f}s against a {policy.deadline}s deadline"


def test_connection_refused_fails_with_a_reason_after_all_attempts() -> None:
    sleeps = Sleeps()
    result = post_json(closed_port_url(), {}, policy=FAST, sleep=sleeps)
    assert (result.ok, result.status, result.attempts) == (False, None, FAST.attempts)
    assert result.error.startswith("ConnectionError")
    assert len(sleeps.delays) == FAST.attempts - 1


def test_invalid_url_is_not_retried_and_does_not_raise() -> None:
    result = post_json("not a url", {}, policy=FAST, sleep=Sleeps())
    assert (result.ok, result.attempts) == (False, 1)
    assert "MissingSchema" in result.error or "InvalidURL" in result.error


def test_exact_bytes_and_extra_headers_are_sent(receiver: Receiver) -> None:
    body = b'{"b":2,"a":1}'
    result = post_json(receiver.url, None, data=body, headers={"X-Test": "yes"}, policy=FAST, sleep=Sleeps())
    assert result.ok
    recorded = receiver.requests[0]
    assert recorded.body == body
    assert recorded.headers["X-Test"] == "yes"
    assert recorded.headers["User-Agent"] == "llmpulse"


def test_full_jitter_stays_within_the_exponential_cap() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=4.0)
    for attempt in range(1, 8):
        cap = min(policy.max_delay, policy.base_delay * 2 ** (attempt - 1))
        assert all(0 <= backoff_delay(attempt, policy) <= cap for _ in range(50))


def test_retry_after_parsing() -> None:
    future = datetime.now(UTC) + timedelta(seconds=120)
    assert parse_retry_after("5") == 5.0
    assert parse_retry_after(" 7 ") == 7.0
    assert 110 < parse_retry_after(format_datetime(future, usegmt=True)) <= 121  # type: ignore[operator]
    assert 110 < parse_retry_after(format_datetime(future.replace(tzinfo=None))) <= 121  # type: ignore[operator]
    for odd in (None, "", "soon", "1.5", "-3", "²", ",,,", "Mon, 99 Foo"):
        assert parse_retry_after(odd) is None, odd


def test_a_body_is_kept_up_to_max_body(receiver: Receiver) -> None:
    """A notifier's receiver's answer is only logged (2,000 characters), an LLM's answer is the result."""
    receiver.default = Reply(200, "x" * 5000)
    assert len(post_json(receiver.url, {}, policy=FAST, sleep=Sleeps()).body) == 2000
    assert len(post_json(receiver.url, {}, policy=FAST, sleep=Sleeps(), max_body=10_000).body) == 5000
