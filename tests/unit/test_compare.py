"""The paired comparison and the gate (evals/compare.py, evals/gate.py), on hand-worked cases."""

from __future__ import annotations

import subprocess
import sys

import pytest

from evals.compare import compare_experiments, gate_alone, mcnemar_p, relative_change, score_change
from evals.gate import BadThreshold, DifferentDatasets, NotFinished, Thresholds


def experiment(name: str, version: int = 1, status: str = "done", dataset: str = "golden") -> dict:
    return {"name": name, "dataset": dataset, "dataset_version": version, "status": status, "reason": "",
            "target": {"model": name}}


def result(item: int, passed: bool | None, *, error: str | None = None, cost: float | None = 0.01,
           latency: float | None = 100.0, score: float | None = None) -> dict:
    scores = {} if score is None else {"expected_match": {"value": score, "label": None}}
    return {"item_id": item, "output": f"answer {item}", "error": error, "passed": passed, "scores": scores,
            "latency_ms": latency, "cost": cost}


def regressing_pair() -> tuple[list[dict], list[dict]]:
    """20 items: 8 pass then fail, 1 fails then passes, 5 pass on both, 6 fail on both."""
    outcomes = [(True, False)] * 8 + [(False, True)] + [(True, True)] * 5 + [(False, False)] * 6
    return ([result(i, before) for i, (before, _) in enumerate(outcomes)],
            [result(i, after) for i, (_, after) in enumerate(outcomes)])


def compare(baseline: list[dict], candidate: list[dict], **thresholds: float) -> dict:
    return compare_experiments(experiment("main"), experiment("pr"), baseline, candidate, Thresholds(**thresholds))


def test_mcnemar_exact_on_8_regressions_against_1_improvement() -> None:
    # Under no change each of the 9 discordant pairs is a fair coin: P(X <= 1) = (1 + 9) / 2**9, doubled.
    assert mcnemar_p(8, 1) == pytest.approx(20 / 512) == pytest.approx(0.0391, abs=1e-4)
    assert mcnemar_p(1, 8) == mcnemar_p(8, 1)
    assert mcnemar_p(0, 0) == 1.0 and mcnemar_p(3, 3) == 1.0


def test_a_significant_regression_fails_the_default_rule() -> None:
    comparison = compare(*regressing_pair())
    assert comparison["regressed"] == list(range(8)) and comparison["improved"] == [8]
    assert comparison["unchanged"] == 11 and comparison["paired"] == 20
    assert comparison["pass_rate"] == {"baseline": 0.65, "candidate": 0.3, "change": pytest.approx(-0.35),
                                       "p_value": pytest.approx(0.0390625)}
    assert comparison["passed"] is False
    assert comparison["reasons"] == ["the pass rate is significantly worse: 8 regression(s) against "
                                     "1 improvement(s), McNemar p = 0.0391 < 0.05"]
    assert [item["verdict"] for item in comparison["items"]][:9] == ["regressed"] * 8 + ["improved"]


def test_the_same_discordance_in_the_candidates_favour_passes() -> None:
    baseline, candidate = regressing_pair()
    comparison = compare(candidate, baseline)  # swapped: 8 improvements, 1 regression
    assert comparison["passed"] is True and comparison["reasons"] == []
    assert comparison["checks"][0]["check"] == "pass_rate_not_worse" and comparison["checks"][0]["passed"]


def test_ties_and_no_discordant_pairs_give_p_1_and_pass() -> None:
    same = [result(i, i % 2 == 0) for i in range(6)]
    comparison = compare(same, [dict(r) for r in same])
    assert comparison["pass_rate"]["p_value"] == 1.0 and comparison["unchanged"] == 6
    assert comparison["regressed"] == comparison["improved"] == [] and comparison["passed"] is True


def test_an_error_counts_as_not_passed_even_when_marked_passed() -> None:
    baseline = [result(1, True), result(2, False, error="timeout"), result(3, True)]
    candidate = [result(1, True, error="HTTP 429 after 5 attempts"), result(2, True), result(3, None)]
    comparison = compare(baseline, candidate)
    assert comparison["regressed"] == [1, 3] and comparison["improved"] == [2]
    assert comparison["errors"] == {"baseline": 1, "candidate": 1}
    regressed = next(item for item in comparison["items"] if item["item_id"] == 1)
    assert regressed["candidate"]["passed"] is False and regressed["candidate"]["error"].startswith("HTTP 429")


def test_only_items_in_both_are_paired_and_the_rest_counted() -> None:
    baseline = [result(i, True) for i in (1, 2, 3, 4)]
    candidate = [result(i, False) for i in (3, 4, 5)]
    comparison = compare(baseline, candidate)
    assert comparison["paired"] == 2 and comparison["unpaired"] == {"baseline_only": 2, "candidate_only": 1}
    assert comparison["regressed"] == [3, 4] and comparison["pass_rate"]["baseline"] == 1.0


def test_each_threshold_passes_at_its_limit_and_fails_beyond_it() -> None:
    baseline = [result(i, True, cost=0.01, latency=100.0) for i in range(10)]
    candidate = [result(i, i >= 2, cost=0.012, latency=130.0) for i in range(10)]  # 2 regressions, +20%, +30%
    limits = {"min_pass_rate": 0.8, "max_regressions": 2, "max_cost_increase": 20, "max_p95_increase": 30}
    at_limit = compare(baseline, candidate, **limits)
    assert at_limit["passed"] is True, at_limit["reasons"]
    assert [c["check"] for c in at_limit["checks"]] == ["pass_rate_not_worse", *limits]
    beyond = {"min_pass_rate": 0.81, "max_regressions": 1, "max_cost_increase": 19.9, "max_p95_increase": 29}
    for name, limit in beyond.items():
        failed = compare(baseline, candidate, **{**limits, name: limit})
        assert failed["passed"] is False and [c["check"] for c in failed["checks"] if not c["passed"]] == [name]
    assert compare(baseline, candidate, max_cost_increase=19.9)["reasons"] == [
        "cost changed +20.0% ($0.1000 -> $0.1200), above the maximum increase of 19.9%"]


def test_cost_is_compared_over_items_priced_on_both_sides() -> None:
    baseline = [result(1, True, cost=0.01), result(2, True, cost=0.01), result(3, True, cost=None)]
    candidate = [result(1, True, cost=0.01), result(2, True, cost=None, error="timeout"), result(3, True, cost=0.5)]
    comparison = compare(baseline, candidate, max_cost_increase=0)
    assert comparison["cost_total"] == {"baseline": 0.01, "candidate": 0.01, "change_pct": 0.0, "items": 1}
    unpriced = compare([result(1, True, cost=None)], [result(1, True)], max_cost_increase=50)
    assert unpriced["passed"] is False
    assert unpriced["reasons"] == ["the cost change cannot be computed (a side has none), so the maximum "
                                   "increase of 50% cannot be checked"]


def test_relative_change_from_zero_is_unbounded_not_infinite() -> None:
    assert relative_change(0.0, 0.0) == 0.0 and relative_change(0.0, 1.0) is None
    assert relative_change(None, 1.0) is None and relative_change(200.0, 150.0) == -25.0


def test_a_score_change_gets_wilcoxon_an_effect_size_and_an_interval() -> None:
    pairs = [(1.0, 0.0)] * 7 + [(0.0, 1.0)] + [(1.0, 1.0)] * 12
    change = score_change(pairs)
    assert change["test"] == "wilcoxon" and change["nonzero"] == 8
    assert change["mean_difference"] == pytest.approx(-0.3)
    assert change["effect_size"] == pytest.approx(-0.75)  # (1 - 7) / 8 with all ranks tied
    assert 0.01 < change["p_value"] < 0.05
    assert change["ci_low"] < -0.1 < change["ci_high"] < 0
    assert score_change(pairs) == change  # the bootstrap is seeded


def test_too_few_changed_scores_say_so_instead_of_a_p_value() -> None:
    few = score_change([(1.0, 0.0)] * 5 + [(1.0, 1.0)] * 30)
    assert few["test"] is None and few["p_value"] is None
    assert few["note"] == "too few pairs: 5 item(s) changed, the test needs 6"
    assert score_change([(0.5, 0.5)] * 10)["note"] == "no item's score changed, the test needs 6"


def test_scores_present_on_one_side_only_or_not_numeric_are_left_out() -> None:
    baseline = [result(i, True, score=1.0) for i in range(3)]
    candidate = [result(i, True) | {"scores": {"judge": {"value": 0.5}, "expected_match": {"value": True}}}
                 for i in range(3)]
    assert compare(baseline, candidate)["scores"] == {}


def test_different_versions_and_unfinished_experiments_are_refused() -> None:
    with pytest.raises(DifferentDatasets, match=r"dataset 'golden' version 1 .* dataset 'golden' version 2"):
        compare_experiments(experiment("a"), experiment("b", version=2), [], [], Thresholds())
    with pytest.raises(DifferentDatasets, match="'other'"):
        compare_experiments(experiment("a"), experiment("b", dataset="other"), [], [], Thresholds())
    with pytest.raises(NotFinished, match="'b' is running, not done"):
        compare_experiments(experiment("a"), experiment("b", status="running"), [], [], Thresholds())
    with pytest.raises(NotFinished, match="'a' is failed"):
        gate_alone(experiment("a", status="failed"), [], Thresholds(min_pass_rate=0.5))


@pytest.mark.parametrize(("thresholds", "message"), [
    ({"min_pass_rate": 80}, "fraction between 0 and 1"),
    ({"max_regressions": -1}, "0 or more"),
    ({"max_cost_increase": -101}, "-100 or more"),
    ({"max_p95_increase": float("nan")}, "max_p95_increase"),
])
def test_thresholds_out_of_range_are_refused(thresholds: dict, message: str) -> None:
    with pytest.raises(BadThreshold, match=message):
        compare_experiments(experiment("a"), experiment("b"), [], [], Thresholds(**thresholds))


def test_the_candidate_alone_is_gated_on_its_pass_rate() -> None:
    results = [result(1, True), result(2, False), result(3, True, error="timeout"), result(4, True)]
    alone = gate_alone(experiment("pr"), results, Thresholds(min_pass_rate=0.5))
    assert alone["passed"] is True and alone["pass_rate"]["candidate"] == 0.5 and alone["baseline"] is None
    assert [item["verdict"] for item in alone["items"]] == ["failed", "failed", "passed", "passed"]
    failing = gate_alone(experiment("pr"), results, Thresholds(min_pass_rate=0.6))
    assert failing["reasons"] == ["pass rate 50.0% is below the minimum 60.0%"]
    with pytest.raises(BadThreshold, match="give min_pass_rate"):
        gate_alone(experiment("pr"), results, Thresholds())
    with pytest.raises(BadThreshold, match="max_regressions compare against a baseline"):
        gate_alone(experiment("pr"), results, Thresholds(min_pass_rate=0.5, max_regressions=0))


def test_the_gate_rules_import_no_scipy() -> None:
    """The UI process checks requests with evals.gate; SciPy stays in the worker (detectors/worker.py)."""
    code = "import sys, dashboard.api_compare; print('scipy' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
