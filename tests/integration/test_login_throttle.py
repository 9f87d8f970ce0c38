"""The login throttle's arithmetic with its real defaults, on a clock the test moves; its counts in
the metadata DB (SQLite and PostgreSQL), shared by every process that opens it."""

from __future__ import annotations

import pytest

from dashboard.throttle import BASE_DELAY, FORGET_AFTER, FREE_FAILURES, MAX_DELAY, LoginThrottle
from schemas.metadata.login_failures import LoginFailures
from schemas.metadata.store import Metadata


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def throttle(metadata: Metadata, clock: Clock) -> LoginThrottle:
    return LoginThrottle(LoginFailures(metadata), clock=clock)


def test_the_defaults_allow_five_then_lock_one_second_doubling_to_fifteen_minutes(throttle: LoginThrottle) -> None:
    assert (FREE_FAILURES, BASE_DELAY, MAX_DELAY) == (5, 1.0, 900.0)
    assert [throttle.delay_after(n) for n in range(1, 11)] == [0, 0, 0, 0, 0, 1, 2, 4, 8, 16]
    assert throttle.delay_after(16) == 900 and throttle.delay_after(60) == 900


def test_a_username_is_locked_from_any_address_and_an_address_for_any_username(throttle: LoginThrottle) -> None:
    for i in range(FREE_FAILURES):
        throttle.failed("ada", f"10.0.0.{i}")  # one username, many addresses
        assert throttle.retry_after("ada", "10.9.9.9") == 0
    throttle.failed("ada", "10.0.0.99")
    assert throttle.retry_after("ada", "10.9.9.9") == 1
    assert throttle.retry_after("bob", "10.9.9.9") == 0
    for i in range(FREE_FAILURES + 1):
        throttle.failed(f"user{i}", "10.1.1.1")  # one address, many usernames
    assert throttle.retry_after("carol", "10.1.1.1") == 1
    assert throttle.retry_after("carol", "10.1.1.2") == 0


def test_each_failure_after_a_lock_doubles_it_and_a_success_clears_it(throttle: LoginThrottle, clock: Clock) -> None:
    waits = []
    for _ in range(FREE_FAILURES + 4):
        throttle.failed("ada", "10.0.0.1")
        waits.append(throttle.retry_after("ada", "10.0.0.1"))
        clock.now += waits[-1]  # the attacker waits each lock out
    assert waits == [0, 0, 0, 0, 0, 1, 2, 4, 8]
    throttle.succeeded("ada", "10.0.0.1")
    throttle.failed("ada", "10.0.0.1")
    assert throttle.retry_after("ada", "10.0.0.1") == 0


def test_a_quiet_hour_forgets_the_failures(throttle: LoginThrottle, clock: Clock) -> None:
    for _ in range(FREE_FAILURES):
        throttle.failed("ada", "10.0.0.1")
    clock.now += FORGET_AFTER + 1
    throttle.failed("ada", "10.0.0.1")
    assert throttle.retry_after("ada", "10.0.0.1") == 0


def test_every_process_sees_the_same_counts(metadata: Metadata, clock: Clock) -> None:
    """Two dashboards (two throttles on one metadata DB): failures sent to either lock both."""
    first, second = (LoginThrottle(LoginFailures(metadata), clock=clock) for _ in range(2))
    for i in range(FREE_FAILURES + 1):
        (first if i % 2 else second).failed("ada", "10.0.0.1")
    assert first.retry_after("ada", "10.0.0.1") == second.retry_after("ada", "10.0.0.1") == 1


def test_the_lock_is_logged(metadata: Metadata, clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    throttle = LoginThrottle(LoginFailures(metadata), free_failures=1, base_delay=30, clock=clock)
    throttle.failed("ada", "10.0.0.1")
    throttle.failed("ada", "10.0.0.1")
    assert "login throttled: user 'ada' locked for 30 s after 2 wrong passwords" in caplog.text
    assert throttle.retry_after("ada", "10.0.0.1") == 30
