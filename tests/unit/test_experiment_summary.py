"""An experiment's summary (evals/summary.py): pass rate with its interval, errors, priced cost."""

from __future__ import annotations

import pytest

from evals.summary import summarize


def result(passed, *, cost=0.001, latency=100.0, error=None, scores=None):
    return {"passed": passed, "cost": cost, "latency_ms": latency, "error": error, "scores": scores or {}}


def test_pass_rate_interval_errors_and_unpriced_items() -> None:
    results = [result(True, latency=100.0, scores={"expected_match": {"value": 1.0}}),
               result(True, latency=200.0, scores={"expected_match": {"value": 1.0}}),
               result(False, latency=300.0, cost=None, scores={"expected_match": {"value": 0.0}}),
               result(False, latency=None, cost=None, error="timeout after 3 attempts")]
    summary = summarize(results)
    assert summary["items"] == 4 and summary["passed"] == 2 and summary["pass_rate"] == 0.5
    assert summary["ci_low"] == pytest.approx(0.15003, abs=1e-4)
    assert summary["ci_high"] == pytest.approx(0.84997, abs=1e-4)
    assert summary["errors"] == 1 and summary["unpriced"] == 2
    assert summary["cost_total"] == pytest.approx(0.002) and summary["cost_per_item"] == pytest.approx(0.001)
    assert summary["latency_p50_ms"] == 200.0 and summary["latency_p95_ms"] == pytest.approx(290.0)
    assert summary["scores"] == {"expected_match": {"mean": pytest.approx(2 / 3), "n": 3}}


def test_no_results_is_none_not_nan() -> None:
    summary = summarize([])
    assert summary["pass_rate"] is None and summary["cost_total"] is None and summary["latency_p95_ms"] is None
    assert summary["scores"] == {}


def test_an_item_marked_passed_with_an_error_does_not_pass() -> None:
    """A result stored as passed that also carries an error (an app run whose span says both) is an
    error, as the docstring says: it counts in errors and not in passed."""
    summary = summarize([result(True), result(True, error="HTTP 500 after 4 tries"), result(False)])
    assert (summary["items"], summary["passed"], summary["errors"]) == (3, 1, 1)
    assert summary["pass_rate"] == pytest.approx(1 / 3)
