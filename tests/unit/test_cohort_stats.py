"""The statistics of A/B cohorts: rate tests from counts, rank tests on samples, empty cohorts."""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pytest
from scipy.stats import fisher_exact

from detectors.shift.proportions import compare_rates
from evals.cohort_compare import MIN_VALUES, compare_cohorts
from evals.cohort_summary import Cohort, Feedback, cohort_json, empty_note


def test_rare_events_take_fishers_exact_test() -> None:
    test = compare_rates(1, 100, 6, 100)  # 3.5 errors expected a cohort: too few for the z-test
    assert test.test == "fisher exact"
    assert test.p_value == pytest.approx(fisher_exact([[1, 99], [6, 94]])[1])
    assert (test.difference, test.ratio) == (pytest.approx(0.05), pytest.approx(6.0))


def test_common_events_take_the_z_test_and_agree_with_fisher() -> None:
    test = compare_rates(100, 1000, 150, 1000)
    assert test.test == "two-proportion z"
    assert test.p_value == pytest.approx(fisher_exact([[100, 900], [150, 850]])[1], rel=0.3)
    assert test.p_value < 0.01 and test.cohens_h > 0


def test_equal_rates_are_not_significant_and_a_zero_rate_has_no_ratio() -> None:
    assert compare_rates(50, 1000, 50, 1000).p_value == pytest.approx(1.0)
    assert compare_rates(0, 1000, 0, 1000).p_value == 1.0
    assert compare_rates(0, 100, 5, 100).ratio is None


def test_rates_need_calls_on_both_sides() -> None:
    with pytest.raises(ValueError, match="both cohorts need calls"):
        compare_rates(0, 0, 1, 10)


def cohort(value: str, latency: np.ndarray, errors: int, feedback: list[float] | None = None) -> Cohort:
    values = [float(v) for v in latency]
    return Cohort(value, requests=len(values), errors=errors, priced=len(values),
                  cost_total=Decimal("0.001") * len(values), latency=(float(np.median(values)), max(values)),
                  output_tokens=100 * len(values),
                  samples={"latency_ms": values, "ttft_ms": [], "output_tokens": [100.0] * len(values),
                           "cost_per_request": [0.001] * len(values)},
                  feedback={"user_feedback": Feedback(len(feedback), float(np.mean(feedback)), feedback)}
                  if feedback else {})


def test_a_slower_cohort_b_has_a_positive_rank_biserial_effect() -> None:
    rng = np.random.default_rng(7)
    a = cohort("v1", rng.lognormal(6.0, 0.3, 400), errors=4, feedback=[1.0] * 30 + [0.0] * 10)
    b = cohort("v2", rng.lognormal(6.5, 0.3, 400), errors=40, feedback=[1.0] * 10 + [0.0] * 30)
    found = {d["metric"]: d for d in compare_cohorts(a, b)}
    latency = found["latency_ms"]
    assert latency["p_value"] < 1e-10 and 0.6 < latency["effect"] <= 1
    assert latency["common_language"] == pytest.approx((latency["effect"] + 1) / 2)
    assert latency["a"] == a.latency_p50 and latency["difference"] == pytest.approx(b.latency_p50 - a.latency_p50)
    assert found["error_rate"]["effect"] == pytest.approx(0.09) and found["error_rate"]["p_value"] < 1e-6
    assert found["feedback:user_feedback"]["effect"] < 0 and found["feedback:user_feedback"]["a"] == 0.75
    assert found["output_tokens"]["p_value"] == pytest.approx(1.0)  # identical samples
    tested = [d for d in found.values() if d["p_value"] is not None]
    assert all(d["p_adjusted"] >= d["p_value"] for d in tested)


def test_one_sample_is_the_same_cohort_twice_and_nothing_differs() -> None:
    values = np.arange(100, 200, dtype=float)
    found = {d["metric"]: d for d in compare_cohorts(cohort("x", values, 5), cohort("y", values, 5))}
    assert found["latency_ms"]["effect"] == 0 and found["latency_ms"]["p_value"] == pytest.approx(1.0)
    assert found["error_rate"]["p_value"] == pytest.approx(1.0)


def test_too_few_values_leave_the_p_value_null_and_say_why() -> None:
    few = cohort("x", np.arange(MIN_VALUES - 1, dtype=float), 0)
    found = {d["metric"]: d for d in compare_cohorts(few, cohort("y", np.arange(50, dtype=float), 0))}
    assert found["latency_ms"]["p_value"] is None and "too few values" in found["latency_ms"]["reason"]
    assert found["ttft_ms"]["p_value"] is None and found["ttft_ms"]["a"] is None  # nothing streamed


def test_an_empty_cohort_is_null_everywhere_never_nan() -> None:
    empty, full = Cohort("v3"), cohort("v1", np.arange(50, dtype=float), 2)
    differences = compare_cohorts(full, empty)
    assert all(d["p_value"] is None and d["effect"] is None for d in differences)
    shown = cohort_json(empty)
    assert shown["requests"] == 0 and shown["error_rate"] is None and shown["cost"]["per_request"] is None
    assert shown["latency_ms"] == {"p50": None, "p95": None} and shown["output_tokens"]["per_call"] is None

    def numbers(value: object) -> list[float]:
        if isinstance(value, dict):
            return [n for v in value.values() for n in numbers(v)]
        if isinstance(value, list):
            return [n for v in value for n in numbers(v)]
        return [value] if isinstance(value, float) else []
    assert not any(math.isnan(n) for n in numbers(differences) + numbers(shown))
    assert "cohort b (prompt = 'v3')" in empty_note(full, empty, "prompt")
    assert empty_note(full, full, "prompt") is None
