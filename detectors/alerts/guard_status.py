"""The guard status a gateway asks before each LLM call, answered from an in-memory snapshot.

Pure except for the half-open trickle, which must remember the calls it let through: a
`Trickle` keeps, per guard, a token bucket (N per minute) or a counter (a fraction of the calls)
behind one lock. Nothing here reads a database: `GuardSnapshot` is built from the stored rows by
the cache that refreshes it (dashboard.guard_cache), and `guard_status` only reads it.

Which guards speak for a call: a guard applies unless one of its filters names another value of
what the call is, as the budget kill switch decides (a call that does not say its user is not
excused from a guard on a user). The budgets' verdicts of the last tick join in: a budget that
no longer allows spending is an open reason until its period ends.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from detectors.alerts.guard_rules import (
    CLOSED,
    HALF_OPEN,
    OPEN,
    GuardSpec,
    GuardState,
    effective_state,
    retry_after,
    stored_guard,
    worst_state,
)
from detectors.alerts.guard_rules import state_from_json as guard_state
from detectors.alerts.rules import format_duration

# What a gateway may say of a call: guards filter on the first four; a budget per ingest key stops
# the calls of the keys that spent theirs (`ingest_key=`: the key's id, as `llmpulse keys list` shows).
STATUS_KEYS = ("model", "service", "user", "tag", "ingest_key")


@dataclass(frozen=True)
class LiveGuard:
    id: int
    spec: GuardSpec
    state: GuardState


@dataclass(frozen=True)
class BudgetVerdict:
    id: int
    filters: tuple[tuple[str, str], ...]
    allowed: bool
    used_pct: float
    period: str
    period_end: datetime
    per: str | None = None  # a budget per user (tag, ingest key): it stops only the calls of the values in `over`
    over: frozenset[str] = frozenset()


@dataclass(frozen=True)
class GuardSnapshot:
    """Every project's guards and budget verdicts, parsed once per refresh (not once per call)."""

    projects: frozenset[str] = frozenset()
    guards: Mapping[str, tuple[LiveGuard, ...]] = field(default_factory=dict)
    budgets: Mapping[str, tuple[BudgetVerdict, ...]] = field(default_factory=dict)
    loaded_at: datetime | None = None


class Trickle:
    """The half-open probe allowance, per guard, decided in memory at each request."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[int, tuple[float, float]] = {}  # guard id -> (tokens, at)
        self._counts: dict[int, int] = {}

    def allow(self, guard_id: int, trickle: tuple[str, float]) -> tuple[bool, float]:
        """(allowed, seconds until the next call would be) for one call through a half-open guard."""
        kind, number = trickle
        with self._lock:
            if kind == "fraction":
                return self._fraction(guard_id, number)
            return self._per_minute(guard_id, number)

    def _fraction(self, guard_id: int, fraction: float) -> tuple[bool, float]:
        """Exactly `fraction` of the calls, evenly spread: call n passes when floor(n·f) steps up."""
        seen = self._counts.get(guard_id, 0) + 1
        self._counts[guard_id] = seen
        return math.floor(seen * fraction) > math.floor((seen - 1) * fraction), 1.0

    def _per_minute(self, guard_id: int, per_minute: float) -> tuple[bool, float]:
        """A token bucket of a second's worth (at least one call): N a minute, no burst of N at once."""
        rate, now = per_minute / 60.0, self.clock()
        capacity = max(1.0, rate)
        tokens, at = self._buckets.get(guard_id, (capacity, now))
        tokens = min(capacity, tokens + (now - at) * rate)
        if tokens >= 1.0:
            self._buckets[guard_id] = (tokens - 1.0, now)
            return True, 0.0
        self._buckets[guard_id] = (tokens, now)
        return False, (1.0 - tokens) / rate

    def forget(self, live: set[int]) -> None:
        """Drop the allowance of guards that are gone or closed, so a new episode starts afresh."""
        with self._lock:
            for table in (self._buckets, self._counts):
                for guard_id in set(table) - live:
                    del table[guard_id]


def build_snapshot(projects: frozenset[str], guards: Any, verdicts: Any, loaded_at: datetime) -> GuardSnapshot:
    """Parse stored guards (`StoredGuard`) and budget verdicts (JSON) into a snapshot; a guard whose
    spec no longer parses is left out (it is reported by the detector's run)."""
    by_project: dict[str, list[LiveGuard]] = {}
    for stored in guards:
        try:
            spec = stored_guard(stored.spec)
        except ValueError:
            continue
        if spec.rule.enabled:
            by_project.setdefault(stored.project, []).append(LiveGuard(stored.id, spec, guard_state(stored.state)))
    budgets: dict[str, list[BudgetVerdict]] = {}
    for v in verdicts:
        budgets.setdefault(v["project"], []).append(BudgetVerdict(
            v["id"], tuple(sorted(v["filters"].items())), v["allowed"], v["used_pct"], v["period"],
            datetime.fromisoformat(v["period_end"]), v.get("per"), frozenset(v.get("over") or ())))
    return GuardSnapshot(projects, {k: tuple(v) for k, v in by_project.items()},
                         {k: tuple(v) for k, v in budgets.items()}, loaded_at)


def guard_status(snapshot: GuardSnapshot, project: str, call: Mapping[str, str], now: datetime,
                 trickle: Trickle) -> dict[str, Any]:
    """The answer: allowed, the worst state of the guards that apply, why, and when to retry."""
    guards = [(g, effective_state(g.state, g.spec.cooldown, now)) for g in snapshot.guards.get(project, ())
              if covers(g.spec.rule.filters, call)]
    budgets = [b for b in snapshot.budgets.get(project, ()) if _stops(b, call)]
    reasons = [_reason(g, state) for g, state in guards if state != CLOSED] + [_budget_reason(b) for b in budgets]
    waits = [retry_after(g.state, g.spec.cooldown, now) for g, state in guards if state == OPEN]
    waits += [max(0.0, (b.period_end - now).total_seconds()) for b in budgets]
    state = worst_state([state for _, state in guards] + [OPEN] * len(budgets))
    if state == HALF_OPEN:
        passes = [trickle.allow(g.id, g.spec.trickle) for g, s in guards if s == HALF_OPEN]
        waits += [wait for ok, wait in passes if not ok]
        allowed = all(ok for ok, _ in passes)
    else:
        allowed = state == CLOSED
    return {"project": project, "allowed": allowed, "state": state, "reasons": reasons,
            "retry_after_s": 0 if allowed else math.ceil(max(waits, default=1.0)) or 1}


def _stops(budget: BudgetVerdict, call: Mapping[str, str]) -> bool:
    """A spent budget stops the calls it covers; a budget per user only its spent users' calls
    (a call that names no user is not held to any user's budget, as `/budget/status` has it)."""
    if not covers(budget.filters, call):
        return False
    return call.get(budget.per, "") in budget.over if budget.per else not budget.allowed


def covers(filters: tuple[tuple[str, str], ...], call: Mapping[str, str]) -> bool:
    return all(call.get(key, value) == value for key, value in filters)


def _reason(guard: LiveGuard, state: str) -> dict[str, Any]:
    rule = guard.spec.rule
    return {"guard": rule.name, "guard_id": guard.id, "state": state, "signal": rule.metric,
            "value": guard.state.value, "comparator": rule.comparator, "threshold": rule.threshold,
            "window": format_duration(rule.window), "filters": rule.filter_map,
            "since": guard.state.since.isoformat() if guard.state.since else None}


def _budget_reason(budget: BudgetVerdict) -> dict[str, Any]:
    return {"guard": f"budget {budget.id}", "budget_id": budget.id, "state": OPEN, "signal": "budget_used_pct",
            "value": budget.used_pct, "comparator": ">=", "threshold": 100.0, "window": budget.period,
            "filters": dict(budget.filters), "until": budget.period_end.isoformat()}
