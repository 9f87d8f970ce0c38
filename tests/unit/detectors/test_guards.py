"""Guards as data: validation like alert rules, the breaker's state machine, the trickle, the status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from detectors.alerts.guard_rules import (
    CLOSED,
    HALF_OPEN,
    OPEN,
    GuardError,
    GuardSpec,
    GuardState,
    effective_state,
    parse_guard,
    state_from_json,
    step_guard,
)
from detectors.alerts.guard_status import BudgetVerdict, GuardSnapshot, LiveGuard, Trickle, guard_status
from detectors.alerts.rules import METRICS

T0 = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
BASE = {"name": "errors", "metric": "error_rate", "comparator": ">", "threshold": 0.5, "window": "5m",
        "cooldown": "30s"}


def guard(**patch: object) -> GuardSpec:
    return parse_guard({**BASE, **patch}, known_channels={1})


def test_a_guard_reads_back_as_it_was_written() -> None:
    spec = guard(filters={"model": "gpt-4o"}, channels=[1], trickle={"fraction": 0.25})
    assert parse_guard(spec.to_json(), known_channels={1}) == spec
    assert spec.to_json()["trickle"] == {"fraction": 0.25} and spec.cooldown == timedelta(seconds=30)
    assert guard(cooldown=None).to_json()["cooldown"] == "5m"


def test_every_rule_metric_is_a_guard_metric() -> None:
    for metric, info in METRICS.items():
        assert guard(metric=metric, threshold=0.1 if info.unit == "ratio" else 1).rule.metric == metric


@pytest.mark.parametrize(("patch", "field", "message"), [
    ({"metric": "vibes"}, "metric", "unknown metric 'vibes'"),
    ({"window": "0s"}, "window", "window must be between 1m and 31d"),
    ({"threshold": "high"}, "threshold", "threshold must be a number"),
    ({"threshold": 5}, "threshold", "use 0.05 for 5%"),
    ({"comparator": "=="}, "comparator", "comparator '==' is not accepted"),
    ({"filters": {"provider": "openai"}}, "filters", "accepted: model, service, user, tag"),
    ({"cooldown": "0s"}, "cooldown", "cooldown must be between 1s and 1d"),
    ({"trickle": {"per_minute": 0}}, "trickle.per_minute", "whole number from 1"),
    ({"trickle": {"fraction": 2}}, "trickle.fraction", "at most 1"),
    ({"trickle": 3}, "trickle", "trickle must be"),
    ({"channels": [9]}, "channels", "channel 9 does not exist"),
    ({"name": ""}, "name", "name is required"),
    ({"for": "5m"}, "for", "unknown field 'for'"),
])
def test_bad_guards_are_refused_naming_the_field(patch: dict, field: str, message: str) -> None:
    with pytest.raises(GuardError) as refused:
        guard(**patch)
    assert refused.value.field == field and message in refused.value.message


def test_the_breaker_opens_half_opens_after_the_cooldown_and_closes_on_recovery() -> None:
    spec = guard()
    timeline = [(0, 0.9, OPEN), (10, 0.9, OPEN), (29, None, OPEN), (30, 0.9, HALF_OPEN), (60, 0.8, HALF_OPEN),
                (90, 0.1, CLOSED), (120, None, CLOSED), (150, 0.7, OPEN)]
    state = GuardState()
    for seconds, value, expected in timeline:
        state = step_guard(state, spec, value, T0 + timedelta(seconds=seconds))
        assert state.state == expected, (seconds, state)
    assert state.since == state.opened_at == T0 + timedelta(seconds=150)


def test_an_open_guard_reads_half_open_once_its_cooldown_passed_between_ticks() -> None:
    state = GuardState(OPEN, T0, 0.9, T0)
    assert effective_state(state, timedelta(seconds=30), T0 + timedelta(seconds=29)) == OPEN
    assert effective_state(state, timedelta(seconds=30), T0 + timedelta(seconds=30)) == HALF_OPEN
    assert state_from_json(state.to_json()) == state
    assert state_from_json({"state": "melted"}) == GuardState()


def test_the_trickle_lets_a_fraction_or_n_a_minute_through() -> None:
    clock = [0.0]
    trickle = Trickle(lambda: clock[0])
    assert [trickle.allow(1, ("fraction", 0.25))[0] for _ in range(8)].count(True) == 2
    passes = [trickle.allow(2, ("per_minute", 6.0)) for _ in range(3)]
    assert [ok for ok, _ in passes] == [True, False, False] and passes[1][1] == pytest.approx(10.0)
    clock[0] = 10.0
    assert trickle.allow(2, ("per_minute", 6.0))[0] is True


def snapshot(*guards: LiveGuard, budgets: tuple[BudgetVerdict, ...] = ()) -> GuardSnapshot:
    return GuardSnapshot(frozenset({"p"}), {"p": guards}, {"p": budgets})


def test_status_applies_the_guards_whose_filters_match_the_call() -> None:
    opened = LiveGuard(1, guard(filters={"model": "gpt-4o"}), GuardState(OPEN, T0, 0.9, T0))
    now, trickle = T0 + timedelta(seconds=10), Trickle()
    other = guard_status(snapshot(opened), "p", {"model": "gpt-4o-mini"}, now, trickle)
    assert other == {"project": "p", "allowed": True, "state": CLOSED, "reasons": [], "retry_after_s": 0}
    mine = guard_status(snapshot(opened), "p", {"model": "gpt-4o", "user": "u"}, now, trickle)
    assert (mine["allowed"], mine["state"], mine["retry_after_s"]) == (False, OPEN, 20)
    assert {k: mine["reasons"][0][k] for k in ("guard", "signal", "value", "threshold", "window")} == {
        "guard": "errors", "signal": "error_rate", "value": 0.9, "threshold": 0.5, "window": "5m"}
    assert guard_status(snapshot(opened), "p", {}, now, trickle)["allowed"] is False  # unsaid is not excused
    assert guard_status(GuardSnapshot(frozenset({"p"})), "p", {}, now, trickle)["reasons"] == []


def test_status_half_open_trickles_and_a_spent_budget_refuses() -> None:
    half = LiveGuard(1, guard(trickle={"fraction": 0.5}), GuardState(OPEN, T0, 0.9, T0))
    now, trickle = T0 + timedelta(minutes=1), Trickle()
    answers = [guard_status(snapshot(half), "p", {}, now, trickle) for _ in range(4)]
    assert [a["allowed"] for a in answers] == [False, True, False, True]
    assert {a["state"] for a in answers} == {HALF_OPEN} and answers[0]["retry_after_s"] == 1
    spent = BudgetVerdict(7, (("user", "bob"),), False, 104.0, "day", T0 + timedelta(hours=2))
    refused = guard_status(snapshot(budgets=(spent,)), "p", {"user": "bob"}, T0, trickle)
    assert (refused["allowed"], refused["state"], refused["retry_after_s"]) == (False, OPEN, 7200)
    assert refused["reasons"][0]["guard"] == "budget 7" and refused["reasons"][0]["value"] == 104.0
    assert guard_status(snapshot(budgets=(spent,)), "p", {"user": "amy"}, T0, trickle)["allowed"] is True
