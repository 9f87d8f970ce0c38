"""Every metric of two cohorts of live calls compared: a test, an effect size, and both values.

Rates (errors of requests, hallucinations of scored calls) are tested on their full counts
(`detectors.shift.proportions`); continuous metrics (latency, TTFT, cost per request, output
tokens, feedback scores) with the drift detector's Mann-Whitney U on bounded samples, whose
Cliff's delta is the rank-biserial correlation: P(b > a) - P(b < a), with P(b > a) + ties/2 as
the common-language effect. The values shown beside a test (`a`, `b`) come from every call:
medians for latency and TTFT, means for cost, tokens and scores. Holm's adjustment over the
differences is given beside each raw p-value, since a dashboard of nine tests finds a p < 0.05
by chance more often than one in three times.

No SciPy (`detectors.shift.ranks`): the API runs this in its own process, in milliseconds.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from detectors.shift.proportions import compare_rates
from detectors.shift.ranks import holm, mann_whitney
from evals.cohort_summary import Cohort

MIN_VALUES = 10  # per cohort and metric: below it a rank test has no power worth a p-value
# (metric, sample key, the value shown: a Cohort attribute), continuous metrics in the order shown.
CONTINUOUS = (
    ("latency_ms", "latency_ms", "latency_p50"),
    ("ttft_ms", "ttft_ms", "ttft_p50"),
    ("cost_per_request", "cost_per_request", "cost_per_request"),
    ("output_tokens", "output_tokens", "output_tokens_per_call"),
)
RATES = (("error_rate", "errors", "requests"), ("hallucination_rate", "flagged", "scored"))


def compare_cohorts(a: Cohort, b: Cohort) -> list[dict[str, Any]]:
    """One difference per metric (feedback: per score name), b against a; p-values null where a
    cohort has too few values, Holm-adjusted over those tested."""
    differences = [_rate(name, a, b, hits, total) for name, hits, total in RATES]
    differences += [_continuous(metric, a.samples[key], b.samples[key], _shown(a, shown), _shown(b, shown))
                    for metric, key, shown in CONTINUOUS]
    differences += [_feedback(name, a, b) for name in sorted(a.feedback.keys() | b.feedback.keys())]
    tested = [d for d in differences if d["p_value"] is not None]
    for difference, adjusted in zip(tested, holm([d["p_value"] for d in tested]), strict=True):
        difference["p_adjusted"] = adjusted
    return differences


def _shown(cohort: Cohort, name: str) -> float | None:
    value: float | None = getattr(cohort, name)
    return value


def _rate(metric: str, a: Cohort, b: Cohort, hits: str, total: str) -> dict[str, Any]:
    n_a, n_b = getattr(a, total), getattr(b, total)
    k_a, k_b = getattr(a, hits), getattr(b, hits)
    base = {"metric": metric, "kind": "rate", "a": k_a / n_a if n_a else None, "b": k_b / n_b if n_b else None,
            "n_a": n_a, "n_b": n_b, "test": None, "p_value": None, "p_adjusted": None, "effect": None,
            "effect_measure": "rate difference (b - a)", "difference": None, "ratio": None, "cohens_h": None}
    if not n_a or not n_b:
        return {**base, "reason": _too_few(n_a, n_b, 1)}
    test = compare_rates(k_a, n_a, k_b, n_b)
    return {**base, "test": test.test, "p_value": test.p_value, "effect": test.difference,
            "difference": test.difference, "ratio": test.ratio, "cohens_h": test.cohens_h}


def _continuous(metric: str, sample_a: list[float], sample_b: list[float], shown_a: float | None,
                shown_b: float | None) -> dict[str, Any]:
    base = {"metric": metric, "kind": "continuous", "a": shown_a, "b": shown_b, "n_a": len(sample_a),
            "n_b": len(sample_b), "test": None, "p_value": None, "p_adjusted": None, "effect": None,
            "effect_measure": "rank-biserial (Cliff's delta): P(b > a) - P(b < a)", "common_language": None,
            "difference": _minus(shown_b, shown_a), "ratio": _ratio(shown_b, shown_a),
            "sample_median_a": None, "sample_median_b": None}
    if min(len(sample_a), len(sample_b)) < MIN_VALUES:
        return {**base, "reason": _too_few(len(sample_a), len(sample_b), MIN_VALUES)}
    a, b = np.asarray(sample_a, float), np.asarray(sample_b, float)
    u, p_value = mann_whitney(b, a)
    effect = 2 * u / (len(a) * len(b)) - 1  # P(b > a) - P(b < a)
    return {**base, "test": "mann-whitney", "p_value": p_value, "effect": effect,
            "common_language": (effect + 1) / 2, "sample_median_a": float(np.median(a)),
            "sample_median_b": float(np.median(b))}


def _feedback(name: str, a: Cohort, b: Cohort) -> dict[str, Any]:
    fa, fb = a.feedback.get(name), b.feedback.get(name)
    difference = _continuous(f"feedback:{name}", fa.sample if fa else [], fb.sample if fb else [],
                             fa.mean if fa else None, fb.mean if fb else None)
    return {**difference, "n_a": fa.count if fa else 0, "n_b": fb.count if fb else 0}


def _minus(b: float | None, a: float | None) -> float | None:
    return b - a if a is not None and b is not None else None


def _ratio(b: float | None, a: float | None) -> float | None:
    return b / a if a and b is not None else None


def _too_few(n_a: int, n_b: int, least: int) -> str:
    return f"too few values to test: {n_a} in a and {n_b} in b (at least {least} each are needed)"
