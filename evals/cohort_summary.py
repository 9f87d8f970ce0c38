"""One cohort of live calls as the comparison shows it: what was read, and its JSON.

Built from the one read of `schemas.clickhouse.cohorts` and handed to `evals.cohort_compare`. A
cohort without calls is a cohort all the same: requests 0 and every metric null, never NaN.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np

EMPTY_SAMPLES = {"latency_ms": [], "ttft_ms": [], "output_tokens": [], "cost_per_request": []}


@dataclass(frozen=True)
class Feedback:
    """Numeric scores of one name (user_feedback, an app's own score) given to the cohort's calls."""

    count: int
    mean: float
    sample: list[float]


@dataclass(frozen=True)
class Cohort:
    """The counts and sums of a cohort's calls, and a bounded sample of each metric (its
    percentiles are the sample's)."""

    value: str
    requests: int = 0
    errors: int = 0
    priced: int = 0
    cost_total: Decimal = Decimal(0)
    latency: tuple[float, float] | None = None  # p50, p95
    ttft: tuple[float, float] | None = None
    streamed: int = 0
    output_tokens: int = 0
    samples: dict[str, list[float]] = field(default_factory=lambda: dict(EMPTY_SAMPLES))
    scored: int = 0
    flagged: int = 0
    feedback: dict[str, Feedback] = field(default_factory=dict)

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests else None

    @property
    def latency_p50(self) -> float | None:
        return self.latency[0] if self.latency else None

    @property
    def ttft_p50(self) -> float | None:
        return self.ttft[0] if self.ttft else None

    @property
    def cost_per_request(self) -> float | None:
        """Over priced calls: an unpriced call's cost is unknown, not $0."""
        return float(self.cost_total / self.priced) if self.priced else None

    @property
    def output_tokens_per_call(self) -> float | None:
        return self.output_tokens / self.requests if self.requests else None

    @property
    def hallucination_rate(self) -> float | None:
        return self.flagged / self.scored if self.scored else None


def read_cohort(value: str, calls: dict[str, Any] | None) -> Cohort:
    """A cohort from the row `schemas.clickhouse.cohorts.cohort_calls` read (None: no row, no calls)."""
    if not calls:
        return Cohort(value)
    feedback = {name: Feedback(int(count), float(calls["feedback_mean"][name]),
                               [float(v) for v in calls["feedback_sample"][name]])
                for name, count in calls["feedback_count"].items() if count}
    return Cohort(
        value, requests=int(calls["requests"]), errors=int(calls["errors"]), priced=int(calls["priced"]),
        cost_total=calls["cost_total"], latency=_percentiles(calls["latency_sample"]),
        ttft=_percentiles(calls["ttft_sample"]), streamed=int(calls["streamed"]),
        output_tokens=int(calls["output_tokens"]), samples={
            "latency_ms": list(calls["latency_sample"]), "ttft_ms": list(calls["ttft_sample"]),
            "output_tokens": list(calls["output_tokens_sample"]), "cost_per_request": list(calls["cost_sample"])},
        scored=int(calls["scored"]), flagged=int(calls["flagged"]), feedback=feedback)


def _percentiles(sample: list[float]) -> tuple[float, float] | None:
    """p50 and p95 of a cohort's sample of a metric (`schemas.clickhouse.cohorts.SAMPLE_SIZE`)."""
    if not len(sample):
        return None
    p50, p95 = np.percentile(np.asarray(sample, float), [50, 95])
    return round(float(p50), 3), round(float(p95), 3)


def cohort_json(cohort: Cohort) -> dict[str, Any]:
    """The cohort as the API answers it; every figure null when it has nothing to say."""
    return {
        "value": cohort.value, "requests": cohort.requests, "errors": cohort.errors, "error_rate": cohort.error_rate,
        "cost": {"total": float(cohort.cost_total) if cohort.priced else None,
                 "total_exact": format(cohort.cost_total.normalize(), "f") if cohort.priced else None,
                 "per_request": cohort.cost_per_request, "priced_requests": cohort.priced,
                 "unpriced_requests": cohort.requests - cohort.priced},
        "latency_ms": _quantiles_json(cohort.latency),
        "ttft_ms": {**_quantiles_json(cohort.ttft), "streamed_requests": cohort.streamed},
        "output_tokens": {"total": cohort.output_tokens, "per_call": cohort.output_tokens_per_call},
        "hallucination": {"scored": cohort.scored, "flagged": cohort.flagged, "rate": cohort.hallucination_rate},
        "feedback": {name: {"count": f.count, "mean": f.mean} for name, f in sorted(cohort.feedback.items())},
    }


def _quantiles_json(pair: tuple[float, float] | None) -> dict[str, float | None]:
    return {"p50": pair[0], "p95": pair[1]} if pair else {"p50": None, "p95": None}


def empty_note(a: Cohort, b: Cohort, attribute: str) -> str | None:
    """What to tell the reader when a cohort has no calls (then nothing can be tested)."""
    empty = [f"{side} ({attribute} = {c.value!r})" for side, c in (("a", a), ("b", b)) if not c.requests]
    if not empty:
        return None
    which = " and ".join(empty)
    return (f"cohort {which} has no calls in the window{'' if len(empty) == 1 else ' either'}: its metrics "
            "are null and no difference is tested. Check the attribute name, the value's spelling and the window.")
