"""Guards (the LLM circuit breaker) as data: what a guard is, its checks, and its state machine.

Pure on purpose, like `rules` beside it: the HTTP layer calls `parse_guard` and maps the
`AlertInputError` to a 400 naming the field; the alerts detector calls `step_guard` each tick;
the status endpoint calls `effective_state`. Nothing here touches a database or a clock.

A guard's metric is any alert-rule metric (`rules.METRICS`), so metrics added there become
guard metrics with no change here. Its states are the classic breaker's:
- closed: calls pass; the condition breaching opens it;
- open: calls are refused until the cool-down has passed since it opened;
- half_open: after the cool-down a trickle of calls passes (a fraction of the calls, or N per
  minute), the probe that lets the window's signal recover; the guard closes when the signal no
  longer breaches. While it still breaches, it stays half-open: the windowed signal carries the
  calls from before the outage, so re-opening on it would refuse the very probes that clear it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from detectors.alerts.rules import (
    AlertInputError,
    RuleSpec,
    check_channels,
    check_filters,
    check_name,
    check_object,
    evaluate,
    format_duration,
    parse_duration,
    parse_rule,
)

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"
GUARD_STATES = (CLOSED, OPEN, HALF_OPEN)
GUARD_FILTER_KEYS = ("model", "service", "user", "tag")
GUARD_FIELDS = ("name", "metric", "comparator", "threshold", "window", "filters", "cooldown", "channels",
                "trickle", "severity", "enabled")
TRICKLE_KEYS = ("fraction", "per_minute")
DEFAULT_COOLDOWN = timedelta(minutes=5)
MIN_COOLDOWN, MAX_COOLDOWN = timedelta(seconds=1), timedelta(days=1)
DEFAULT_TRICKLE: tuple[str, float] = ("per_minute", 6.0)
MAX_PER_MINUTE = 100_000
# Worst first: the state a status answer reports when several guards apply.
_RANK = {OPEN: 2, HALF_OPEN: 1, CLOSED: 0}


class GuardError(AlertInputError):
    """A guard payload that cannot be stored as sent."""


@dataclass(frozen=True)
class GuardSpec:
    """A validated guard; its condition is a `RuleSpec` so the rule checks and comparison are shared."""

    rule: RuleSpec
    cooldown: timedelta = DEFAULT_COOLDOWN
    trickle: tuple[str, float] = DEFAULT_TRICKLE

    @property
    def name(self) -> str:
        return self.rule.name

    def to_json(self) -> dict[str, Any]:
        """The API shape; `parse_guard(spec.to_json(), …)` gives the same spec back."""
        rule = self.rule
        return {"name": rule.name, "metric": rule.metric, "comparator": rule.comparator,
                "threshold": rule.threshold, "window": format_duration(rule.window), "filters": rule.filter_map,
                "cooldown": format_duration(self.cooldown), "channels": list(rule.channels),
                "trickle": {self.trickle[0]: _trickle_number(self.trickle)}, "severity": rule.severity,
                "enabled": rule.enabled}


@dataclass(frozen=True)
class GuardState:
    """Where a guard stands: `since` is when it entered `state`; `value` the last reading."""

    state: str = CLOSED
    since: datetime | None = None
    value: float | None = None
    opened_at: datetime | None = None  # when the current open episode began (kept through half-open)

    def to_json(self) -> dict[str, Any]:
        return {"state": self.state, "since": _iso(self.since), "value": self.value,
                "opened_at": _iso(self.opened_at)}


def state_from_json(data: Mapping[str, Any]) -> GuardState:
    """A stored state; anything unreadable is a closed guard (a breaker fails open, never stuck shut)."""
    state = data.get("state")
    if state not in GUARD_STATES:
        return GuardState()
    value = data.get("value")
    return GuardState(state, _time(data.get("since")), float(value) if isinstance(value, int | float) else None,
                      _time(data.get("opened_at")))


def parse_guard(payload: Any, *, known_channels: Collection[int]) -> GuardSpec:
    """Validate a POST body into a `GuardSpec`, or raise `GuardError` naming its first bad field.

    The condition (metric, comparator, threshold, window, filters, channels) goes through the alert
    rules' own parser, so a guard refuses exactly what a rule refuses, word for word.
    """
    body = check_object(payload, GUARD_FIELDS, error=GuardError)
    check_name(body.get("name"), error=GuardError)
    filters = check_filters(body.get("filters"), GUARD_FILTER_KEYS, error=GuardError)
    check_channels(body.get("channels"), known_channels, error=GuardError)
    condition = {key: body[key] for key in ("name", "metric", "comparator", "threshold", "window", "channels",
                                             "severity", "enabled") if body.get(key) is not None}
    try:
        rule = parse_rule({**condition, "filters": dict(filters)}, known_channels=known_channels,
                          default_renotify=timedelta(0))
    except AlertInputError as exc:
        raise GuardError(exc.message, exc.field) from None
    return GuardSpec(rule, _parse_cooldown(body.get("cooldown")), _parse_trickle(body.get("trickle")))


def stored_guard(spec: Mapping[str, Any]) -> GuardSpec:
    """A guard as stored; its channels were checked when it was saved."""
    return parse_guard(spec, known_channels=set(spec.get("channels") or ()))


def step_guard(state: GuardState, spec: GuardSpec, value: float | None, now: datetime) -> GuardState:
    """One evaluation. No data (None) is no breach: a quiet window never opens a guard."""
    breached = evaluate(spec.rule, value) is True
    if state.state == CLOSED:
        return GuardState(OPEN, now, value, now) if breached else GuardState(CLOSED, state.since, value)
    if state.state == OPEN:
        if now - (state.since or now) >= spec.cooldown:
            return GuardState(HALF_OPEN, now, value, state.opened_at)
        return GuardState(OPEN, state.since, value, state.opened_at)
    if breached:
        return GuardState(HALF_OPEN, state.since, value, state.opened_at)
    return GuardState(CLOSED, now, value)


def effective_state(state: GuardState, cooldown: timedelta, now: datetime) -> str:
    """The state a caller sees now: an open guard whose cool-down has passed is half-open at once,
    not only from the next detector tick."""
    if state.state == OPEN and state.since is not None and now - state.since >= cooldown:
        return HALF_OPEN
    return state.state


def retry_after(state: GuardState, cooldown: timedelta, now: datetime) -> float:
    """Seconds until an open guard lets its first probe through (0 once it is half-open)."""
    if state.state != OPEN or state.since is None:
        return 0.0
    return max(0.0, (state.since + cooldown - now).total_seconds())


def worst_state(states: Collection[str]) -> str:
    return max(states, key=_RANK.__getitem__, default=CLOSED)


def _parse_cooldown(value: Any) -> timedelta:
    if value is None:
        return DEFAULT_COOLDOWN
    cooldown = parse_duration(value, "cooldown")
    if not MIN_COOLDOWN <= cooldown <= MAX_COOLDOWN:
        raise GuardError(f"cooldown must be between {format_duration(MIN_COOLDOWN)} and "
                         f"{format_duration(MAX_COOLDOWN)}, not {value!r}", "cooldown")
    return cooldown


def _parse_trickle(value: Any) -> tuple[str, float]:
    """How many calls a half-open guard lets through: {"fraction": 0.1} or {"per_minute": 6}."""
    if value is None:
        return DEFAULT_TRICKLE
    hint = 'trickle must be {"fraction": 0.1} (of the calls) or {"per_minute": 6}'
    if not isinstance(value, Mapping) or len(value) != 1 or next(iter(value)) not in TRICKLE_KEYS:
        raise GuardError(hint, "trickle")
    key, number = next(iter(value.items()))
    if isinstance(number, bool) or not isinstance(number, int | float):
        raise GuardError(hint, f"trickle.{key}")
    if key == "fraction" and not 0 < number <= 1:
        raise GuardError("trickle.fraction must be more than 0 and at most 1, e.g. 0.1", "trickle.fraction")
    if key == "per_minute" and not (float(number).is_integer() and 1 <= number <= MAX_PER_MINUTE):
        raise GuardError(f"trickle.per_minute must be a whole number from 1 to {MAX_PER_MINUTE}",
                         "trickle.per_minute")
    return key, float(number)


def _trickle_number(trickle: tuple[str, float]) -> float | int:
    return int(trickle[1]) if trickle[0] == "per_minute" else trickle[1]


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _time(text: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        return None

