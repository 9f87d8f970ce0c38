"""The incident lifecycle of one rule (and one filter scope) as a pure state machine.

ok → pending → firing → resolved, in the manner of Grafana alerting: a breach must hold for the
rule's for-duration before anyone is paged, a gap in the data changes nothing (no flapping on
a quiet minute), and a breach after a resolution opens a new incident. The caller stores the
state, evaluates on its schedule, and delivers the returned actions; keeping this free of I/O
lets the whole timeline be tested as a table of (time, breached, value) rows.

Notification choices, made so every page has a matching all-clear and nothing else:
- a trigger is sent when the incident fires, unless silenced; if the silence ends while the
  incident is still firing (and nobody has acknowledged it), a trigger is sent then;
- a renotify is sent every `renotify` while firing, unless acknowledged or silenced; a
  `renotify` of zero turns re-notification off;
- a resolve is sent exactly when something was sent for this incident before, whether or not
  it was acknowledged or is silenced now: an open PagerDuty incident always gets closed, and a
  breach that was silenced from start to end stays silent.
Times may run backwards (clock steps, late evaluations): a negative elapsed time simply does
not count as "held long enough" or "due", it never raises.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

OK, PENDING, FIRING, RESOLVED = "ok", "pending", "firing", "resolved"
STATES = (OK, PENDING, FIRING, RESOLVED)
TRIGGER, RENOTIFY, RESOLVE = "trigger", "renotify", "resolve"
_CLOSED = frozenset({OK, RESOLVED})
_OPEN = frozenset({PENDING, FIRING})
_ZERO = timedelta(0)


class IncidentError(ValueError):
    """An operation the incident's current state does not allow (HTTP 409)."""

    status = 409

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class IncidentState:
    """Where an incident stands; all times are timezone-aware or None.

    `pending_since` is when the breach began and is kept once firing, so the incident's start
    (the natural deduplication key, e.g. for PagerDuty) never changes while it is open.
    """

    state: str = OK
    value: float | None = None
    pending_since: datetime | None = None
    firing_since: datetime | None = None
    resolved_at: datetime | None = None
    last_notified_at: datetime | None = None
    acknowledged_at: datetime | None = None
    silenced_until: datetime | None = None

    @property
    def started_at(self) -> datetime | None:
        return self.pending_since or self.firing_since

    def is_silenced(self, now: datetime) -> bool:
        return self.silenced_until is not None and now < self.silenced_until


@dataclass(frozen=True)
class Action:
    """A notification to deliver: `kind` is trigger, renotify or resolve."""

    kind: str
    at: datetime
    value: float | None


Step = tuple[IncidentState, tuple[Action, ...]]


def step(state: IncidentState, breached: bool | None, value: float | None, now: datetime, *,
         for_duration: timedelta, renotify: timedelta) -> Step:
    """Advance one evaluation; `breached` None means the window had no data: nothing changes."""
    _require_aware(now, "now")
    if state.state not in STATES:
        raise ValueError(f"unknown incident state {state.state!r}; expected one of {', '.join(STATES)}")
    if for_duration < _ZERO or renotify < _ZERO:
        raise ValueError("for_duration and renotify must not be negative")
    if breached is None:
        return state, ()
    if state.state in _CLOSED:
        return _open(state, value, now, for_duration) if breached else (state, ())
    if state.state == PENDING:
        return _hold(state, value, now, for_duration) if breached else (_back_to_ok(state), ())
    return _keep_firing(state, value, now, renotify) if breached else _resolve(state, value, now)


def is_new_incident(old: IncidentState, new: IncidentState) -> bool:
    """True when this step opened an incident, i.e. the caller must create a new row.

    A pending incident that recovers goes back to ok without any notification; the caller may
    drop its row or keep it as a near miss.
    """
    return old.state in _CLOSED and new.state in _OPEN


def retire(state: IncidentState, now: datetime) -> Step:
    """An open incident whose rule stops being evaluated (deleted or disabled) resolves now, at its
    last value; the all-clear goes out only where a trigger did (a pending one told nobody)."""
    _require_aware(now, "now")
    return (state, ()) if state.state not in _OPEN else _resolve(state, state.value, now)


def acknowledge(state: IncidentState, now: datetime) -> IncidentState:
    """Someone is on it: stops re-notification (not the resolve). Repeating it keeps the first time."""
    _require_aware(now, "now")
    if state.state != FIRING:
        raise IncidentError(f"only a firing incident can be acknowledged; this one is {state.state}")
    return state if state.acknowledged_at is not None else replace(state, acknowledged_at=now)


def silence(state: IncidentState, until: datetime) -> IncidentState:
    """Mute notifications until `until` (in any state, also before an incident opens).

    The silence outlives a resolution so it covers the next incident of the same rule;
    `silence(state, now)` lifts it, and a still-firing incident is then announced.
    """
    _require_aware(until, "until")
    return replace(state, silenced_until=until)


def _open(state: IncidentState, value: float | None, now: datetime, for_duration: timedelta) -> Step:
    """A new incident: nothing of the previous one is kept except a silence."""
    fresh = IncidentState(state=PENDING, value=value, pending_since=now, silenced_until=state.silenced_until)
    return _fire(fresh, now) if for_duration == _ZERO else (fresh, ())


def _hold(state: IncidentState, value: float | None, now: datetime, for_duration: timedelta) -> Step:
    held = replace(state, value=value)
    since = state.pending_since or now
    return _fire(held, now) if now - since >= for_duration else (held, ())


def _back_to_ok(state: IncidentState) -> IncidentState:
    """A breach shorter than the for-duration: never announced, so nothing to take back."""
    return IncidentState(silenced_until=state.silenced_until)


def _fire(state: IncidentState, now: datetime) -> Step:
    firing = replace(state, state=FIRING, firing_since=now)
    return (firing, ()) if firing.is_silenced(now) else _notify(firing, TRIGGER, now)


def _keep_firing(state: IncidentState, value: float | None, now: datetime, renotify: timedelta) -> Step:
    current = replace(state, value=value)
    if current.is_silenced(now):
        return current, ()
    silence_ended = current.silenced_until is not None
    current = replace(current, silenced_until=None)
    if current.acknowledged_at is not None:
        return current, ()
    if silence_ended or current.last_notified_at is None:
        return _notify(current, TRIGGER, now)
    return _notify(current, RENOTIFY, now) if _renotify_due(current, now, renotify) else (current, ())


def _renotify_due(state: IncidentState, now: datetime, renotify: timedelta) -> bool:
    last = state.last_notified_at
    return renotify > _ZERO and last is not None and now - last >= renotify


def _resolve(state: IncidentState, value: float | None, now: datetime) -> Step:
    resolved = replace(state, state=RESOLVED, value=value, resolved_at=now)
    if state.last_notified_at is None:
        return resolved, ()
    return _notify(resolved, RESOLVE, now)


def _notify(state: IncidentState, kind: str, now: datetime) -> Step:
    """Record a notification; an expired silence is cleared so its end is announced only once."""
    silence_left = state.silenced_until if state.is_silenced(now) else None
    sent = replace(state, last_notified_at=now, silenced_until=silence_left)
    return sent, (Action(kind, now, state.value),)


def _require_aware(moment: datetime, name: str) -> None:
    """Naive and aware times cannot be compared; refuse early with a message, not a TypeError later."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")
