"""The idle hook: once after a burst of runs, never in the middle of one."""

from __future__ import annotations

import threading

import pytest

from detectors.idle import IdleHook

DELAY = 0.2


class Calls:
    def __init__(self) -> None:
        self.count, self.event = 0, threading.Event()

    def __call__(self) -> None:
        self.count += 1
        self.event.set()


def test_without_a_delay_the_hook_runs_when_the_outermost_block_ends() -> None:
    calls = Calls()
    hook = IdleHook(calls)
    with hook.busy():
        with hook.busy():
            pass
        assert calls.count == 0
    assert calls.count == 1


def test_back_to_back_blocks_within_the_delay_call_the_hook_once_after_the_last() -> None:
    calls = Calls()
    hook = IdleHook(calls, DELAY)
    for _ in range(3):
        with hook.busy():
            pass
    assert calls.count == 0  # still waiting out the delay
    assert calls.event.wait(5)
    threading.Event().wait(DELAY * 2)  # a cancelled timer that fired anyway would show by now
    assert calls.count == 1


def test_a_block_still_running_when_the_delay_ends_holds_the_hook_back() -> None:
    calls = Calls()
    hook = IdleHook(calls, DELAY)
    with hook.busy():
        pass
    with hook.busy():
        assert not calls.event.wait(DELAY * 2)
    assert calls.event.wait(5) and calls.count == 1


def test_cancel_drops_the_pending_call() -> None:
    calls = Calls()
    hook = IdleHook(calls, DELAY)
    with hook.busy():
        pass
    hook.cancel()
    assert not calls.event.wait(DELAY * 3)


def test_a_failing_hook_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    def boom() -> None:
        raise OSError("madvise refused")

    with IdleHook(boom).busy():
        pass
    assert "idle hook failed" in caplog.text
