"""The incident state machine, driven by timelines of (minute, input) rows.

An input is True (breach), False (recovery), None (no data), "ack", or ("silence", until_minute).
Each row states the incident's state and the notifications sent after it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from detectors.alerts.incidents import (
    FIRING,
    OK,
    PENDING,
    RESOLVED,
    Action,
    IncidentError,
    IncidentState,
    acknowledge,
    is_new_incident,
    silence,
    step,
)

T0 = datetime(2025, 6, 1, 12, tzinfo=UTC)
BREACH_VALUE, CALM_VALUE = 9.0, 1.0
NONE: tuple[str, ...] = ()


def at(minute: float) -> datetime:
    return T0 + timedelta(minutes=minute)


@dataclass(frozen=True)
class Timeline:
    for_minutes: float
    renotify_minutes: float
    rows: list[tuple[float, Any, str, tuple[str, ...]]]


Outcome = tuple[IncidentState, tuple[Action, ...]]


def _apply(state: IncidentState, minute: float, event: Any, timeline: Timeline) -> Outcome:
    if event == "ack":
        return acknowledge(state, at(minute)), ()
    if isinstance(event, tuple):
        return silence(state, at(event[1])), ()
    value = None if event is None else (BREACH_VALUE if event else CALM_VALUE)
    return step(state, event, value, at(minute), for_duration=timedelta(minutes=timeline.for_minutes),
                renotify=timedelta(minutes=timeline.renotify_minutes))


def run(timeline: Timeline) -> list[tuple[float, str, tuple[str, ...]]]:
    state, seen = IncidentState(), []
    for minute, event, _, _ in timeline.rows:
        state, actions = _apply(state, minute, event, timeline)
        seen.append((minute, state.state, tuple(action.kind for action in actions)))
    return seen


TIMELINES = {
    "for 0 fires at once and resolves": Timeline(0, 60, [
        (0, True, FIRING, ("trigger",)),
        (1, True, FIRING, NONE),
        (2, False, RESOLVED, ("resolve",)),
        (3, False, RESOLVED, NONE),
    ]),
    "for 5m is pending, fires at 5m and not before": Timeline(5, 60, [
        (0, False, OK, NONE),
        (1, True, PENDING, NONE),
        (5.9, True, PENDING, NONE),
        (6, True, FIRING, ("trigger",)),
        (7, True, FIRING, NONE),
    ]),
    "pending recovery is silent and restarts the clock": Timeline(5, 60, [
        (0, True, PENDING, NONE),
        (3, False, OK, NONE),
        (4, True, PENDING, NONE),
        (8, True, PENDING, NONE),
        (9, True, FIRING, ("trigger",)),
    ]),
    "renotify cadence": Timeline(0, 30, [
        (0, True, FIRING, ("trigger",)),
        (29, True, FIRING, NONE),
        (30, True, FIRING, ("renotify",)),
        (45, True, FIRING, NONE),
        (60, True, FIRING, ("renotify",)),
        (61, False, RESOLVED, ("resolve",)),
    ]),
    "renotify 0 never repeats": Timeline(0, 0, [
        (0, True, FIRING, ("trigger",)),
        (600, True, FIRING, NONE),
    ]),
    "acknowledged suppresses renotify, not the resolve": Timeline(0, 30, [
        (0, True, FIRING, ("trigger",)),
        (10, "ack", FIRING, NONE),
        (30, True, FIRING, NONE),
        (90, True, FIRING, NONE),
        (100, False, RESOLVED, ("resolve",)),
    ]),
    "silence suppresses, then a trigger when it ends while firing": Timeline(0, 30, [
        (0, ("silence", 60), OK, NONE),
        (5, True, FIRING, NONE),
        (35, True, FIRING, NONE),
        (60, True, FIRING, ("trigger",)),
        (80, True, FIRING, NONE),
        (90, True, FIRING, ("renotify",)),
    ]),
    "silence after a page still sends the resolve": Timeline(0, 30, [
        (0, True, FIRING, ("trigger",)),
        (1, ("silence", 120), FIRING, NONE),
        (31, True, FIRING, NONE),
        (61, True, FIRING, NONE),
        (90, False, RESOLVED, ("resolve",)),
    ]),
    "silenced from start to end stays silent": Timeline(0, 30, [
        (0, ("silence", 100), OK, NONE),
        (5, True, FIRING, NONE),
        (50, False, RESOLVED, NONE),
    ]),
    "a silence outlives the resolution": Timeline(0, 30, [
        (0, ("silence", 100), OK, NONE),
        (5, True, FIRING, NONE),
        (10, False, RESOLVED, NONE),
        (20, True, FIRING, NONE),
        (100, True, FIRING, ("trigger",)),
    ]),
    "silence that ended before firing does not double the trigger": Timeline(5, 30, [
        (0, ("silence", 3), OK, NONE),
        (1, True, PENDING, NONE),
        (6, True, FIRING, ("trigger",)),
        (7, True, FIRING, NONE),
    ]),
    "lifting a silence announces a firing incident": Timeline(0, 30, [
        (0, ("silence", 1000), OK, NONE),
        (5, True, FIRING, NONE),
        (10, ("silence", 10), FIRING, NONE),
        (11, True, FIRING, ("trigger",)),
    ]),
    "acknowledged during a silence: no trigger when it ends": Timeline(0, 30, [
        (0, ("silence", 60), OK, NONE),
        (5, True, FIRING, NONE),
        (10, "ack", FIRING, NONE),
        (60, True, FIRING, NONE),
        (70, False, RESOLVED, NONE),
    ]),
    "no data keeps every state": Timeline(5, 30, [
        (0, None, OK, NONE),
        (1, True, PENDING, NONE),
        (3, None, PENDING, NONE),
        (6, True, FIRING, ("trigger",)),
        (40, None, FIRING, NONE),
        (200, None, FIRING, NONE),
        (201, True, FIRING, ("renotify",)),
        (202, False, RESOLVED, ("resolve",)),
        (300, None, RESOLVED, NONE),
    ]),
    "a breach after a resolve opens a new incident": Timeline(0, 30, [
        (0, True, FIRING, ("trigger",)),
        (5, "ack", FIRING, NONE),
        (10, False, RESOLVED, ("resolve",)),
        (20, True, FIRING, ("trigger",)),
        (50, True, FIRING, ("renotify",)),
    ]),
    "the clock going backwards is harmless": Timeline(5, 30, [
        (10, True, PENDING, NONE),
        (5, True, PENDING, NONE),
        (14, True, PENDING, NONE),
        (15, True, FIRING, ("trigger",)),
        (3, True, FIRING, NONE),
        (2, "ack", FIRING, NONE),
        (1, False, RESOLVED, ("resolve",)),
        (0, True, PENDING, NONE),
    ]),
}


@pytest.mark.parametrize("name", list(TIMELINES))
def test_timeline(name: str) -> None:
    timeline = TIMELINES[name]
    assert run(timeline) == [(minute, state, kinds) for minute, _, state, kinds in timeline.rows]


def _step(state: IncidentState, breached: bool | None, minute: float, value: float | None = BREACH_VALUE,
          for_minutes: float = 0) -> Outcome:
    return step(state, breached, value, at(minute), for_duration=timedelta(minutes=for_minutes),
                renotify=timedelta(minutes=30))


def test_actions_carry_the_time_and_the_value() -> None:
    firing, fired = _step(IncidentState(), True, 0, value=4.5)
    resolved, cleared = _step(firing, False, 5, value=0.5)
    assert fired == (Action("trigger", at(0), 4.5),)
    assert cleared == (Action("resolve", at(5), 0.5),)
    assert (resolved.value, resolved.resolved_at, resolved.firing_since) == (0.5, at(5), at(0))


def test_the_start_of_an_incident_stays_put_while_it_fires() -> None:
    pending, _ = _step(IncidentState(), True, 0, for_minutes=5)
    firing, _ = _step(pending, True, 5, for_minutes=5)
    assert (firing.pending_since, firing.firing_since, firing.started_at) == (at(0), at(5), at(0))


def test_no_data_returns_the_same_state() -> None:
    firing, _ = _step(IncidentState(), True, 0)
    assert _step(firing, None, 1, value=None) == (firing, ())


def test_a_new_incident_starts_clean_but_keeps_a_silence() -> None:
    firing, _ = _step(IncidentState(), True, 0)
    resolved, _ = _step(acknowledge(firing, at(1)), False, 2)
    resolved = silence(resolved, at(10))
    reopened, actions = _step(resolved, True, 5)
    assert reopened == IncidentState(state=FIRING, value=BREACH_VALUE, pending_since=at(5), firing_since=at(5),
                                     silenced_until=at(10))
    assert actions == ()
    assert is_new_incident(resolved, reopened)


@pytest.mark.parametrize(("old", "new", "expected"), [
    (OK, PENDING, True), (OK, FIRING, True), (RESOLVED, PENDING, True), (RESOLVED, FIRING, True),
    (PENDING, FIRING, False), (PENDING, OK, False), (FIRING, FIRING, False), (FIRING, RESOLVED, False),
    (OK, OK, False), (RESOLVED, RESOLVED, False),
])
def test_is_new_incident(old: str, new: str, expected: bool) -> None:
    assert is_new_incident(IncidentState(state=old), IncidentState(state=new)) is expected


def test_acknowledge_keeps_the_first_time() -> None:
    firing, _ = _step(IncidentState(), True, 0)
    assert acknowledge(acknowledge(firing, at(1)), at(2)).acknowledged_at == at(1)


@pytest.mark.parametrize("state", [OK, PENDING, RESOLVED])
def test_only_a_firing_incident_can_be_acknowledged(state: str) -> None:
    with pytest.raises(IncidentError) as caught:
        acknowledge(IncidentState(state=state), T0)
    assert caught.value.status == 409
    assert caught.value.message == f"only a firing incident can be acknowledged; this one is {state}"


def test_times_in_other_zones_compare_as_instants() -> None:
    paris = timezone(timedelta(hours=2))
    pending, _ = _step(IncidentState(), True, 0, for_minutes=5)
    firing, actions = step(pending, True, 1.0, (T0 + timedelta(minutes=5)).astimezone(paris),
                           for_duration=timedelta(minutes=5), renotify=timedelta(minutes=30))
    assert (firing.state, [action.kind for action in actions]) == (FIRING, ["trigger"])


@pytest.mark.parametrize(("call", "message"), [
    (lambda: step(IncidentState(), True, 1.0, datetime(2025, 6, 1), for_duration=timedelta(0),
                  renotify=timedelta(0)), "now must be a timezone-aware datetime"),
    (lambda: silence(IncidentState(), datetime(2025, 6, 1)), "until must be a timezone-aware datetime"),
    (lambda: step(IncidentState(), True, 1.0, T0, for_duration=timedelta(minutes=-1), renotify=timedelta(0)),
     "for_duration and renotify must not be negative"),
    (lambda: step(IncidentState(state="burning"), True, 1.0, T0, for_duration=timedelta(0), renotify=timedelta(0)),
     "unknown incident state 'burning'; expected one of ok, pending, firing, resolved"),
])
def test_programming_errors_are_refused_clearly(call: Any, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        call()
