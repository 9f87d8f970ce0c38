"""The demo's traffic: which scenario runs when, for which user and session (`plan_traces`).

Users are skewed (a few are busy), sessions continue across traces, and traces after the
window's midpoint see the silently changed model, so the drift detector has something to find.
"""

from __future__ import annotations

import random

from llmpulse.demo.calls import Sideline, TraceBuilder, TraceContext, TracePlan
from llmpulse.demo.models import ENVIRONMENTS, USER_COUNT
from llmpulse.demo.scenarios import SCENARIOS, Scenario, pick_weighted


class _Population:
    """Users with skewed activity, each with a current session that later traces may continue."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._users = [f"user-{i:04d}" for i in range(1, USER_COUNT + 1)]
        self._weights = [1 / (i + 1) ** 0.9 for i in range(USER_COUNT)]
        self._sessions: dict[str, tuple[str, int]] = {}

    def visit(self, sessions: bool) -> tuple[str, str, int]:
        """(user id, session id, turns the session already had)."""
        user = self._rng.choices(self._users, weights=self._weights)[0]
        if not sessions:
            return user, "", 0
        session, turns = self._sessions.get(user, ("", 0))
        if not session or turns >= 6 or self._rng.random() < 0.35:
            session, turns = f"sess-{self._rng.getrandbits(48):012x}", 0
        self._sessions[user] = (session, turns + 1)
        return user, session, turns


def _start_times(rng: random.Random, traces: int, start_ns: int, end_ns: int) -> list[int]:
    margin = 120 * 10**9  # the longest trace still ends before `end_ns`
    span = max(end_ns - margin - start_ns, 1)
    return sorted(start_ns + int(rng.random() * span) for _ in range(traces))


def _plan_one(scenario: Scenario, context: TraceContext, environment: str, start_ns: int) -> TracePlan:
    builder = TraceBuilder(context)
    scenario.plan(builder)
    return TracePlan(scenario.name, scenario.service, environment, start_ns, tuple(builder.spans))


def plan_traces(*, traces: int, seed: int, start_ns: int, end_ns: int, ids_seed: str) -> list[TracePlan]:
    """All traces of a demo run, oldest first; traces after the window's midpoint see the changed model."""
    rng, ids = random.Random(seed), random.Random(ids_seed)
    side = Sideline(random.Random(f"{seed}:side"), random.Random(f"{ids_seed}:side"))
    population = _Population(rng)
    midpoint = start_ns + (end_ns - start_ns) // 2
    plans = []
    for trace_start in _start_times(rng, traces, start_ns, end_ns):
        scenario = rng.choices(SCENARIOS, weights=[s.weight for s in SCENARIOS])[0]
        user, session, turn = population.visit(scenario.sessions)
        context = TraceContext(rng, ids, int(trace_start >= midpoint), scenario.service, user, session, turn, side)
        environment = pick_weighted(rng, ENVIRONMENTS)[0]
        plans.append(_plan_one(scenario, context, environment, trace_start))
    return plans
