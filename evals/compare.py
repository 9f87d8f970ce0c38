"""Two experiments on one dataset version compared item by item, and the gate's verdict on it.

Pairing matters: both runs answered the same inputs, so the question "did the candidate get worse"
is answered by the items whose outcome changed, not by two independent pass rates. The pass rate
is tested with McNemar's exact test (a two-sided binomial test on the discordant pairs: with 8
regressions and 1 improvement p = 0.039, while 85% vs 81% on two unpaired samples of 100 would
say nothing). Each numeric score is tested with the Wilcoxon signed-rank test on its per-item
differences, with the matched-pairs rank-biserial correlation as effect size and a paired
bootstrap interval of the mean difference. Cost and latency are compared over the paired items
only, so both sides speak for the same inputs; cost over the items priced on both sides, so an
item that errored (and cost nothing) on one side does not make the other look dearer.

SciPy is imported here: the UI process runs `compare_experiments` in a worker process
(`detectors.worker`), and checks requests with `evals.gate`, which does not import it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.stats import binomtest, bootstrap, rankdata, wilcoxon

from evals.gate import Thresholds, check_comparable, check_thresholds, gate_checks
from evals.summary import passes, summarize

# Below 6 non-zero differences a two-sided Wilcoxon test cannot reach p < 0.05 (2/2**5 at 5).
MIN_NONZERO_PAIRS = 6
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 22  # a fixed seed: the same two experiments always give the same interval
VERDICT_ORDER = {"regressed": 0, "failed": 0, "improved": 1, "unchanged": 2, "passed": 2}
Result = dict[str, Any]


def compare_experiments(baseline: dict[str, Any], candidate: dict[str, Any], baseline_results: Sequence[Result],
                        candidate_results: Sequence[Result], thresholds: Thresholds) -> dict[str, Any]:
    """The comparison the API answers: experiments as `ExperimentStore.get`, results as `.results`.
    Raises `CompareRefused` (different dataset versions, unfinished) and `BadThreshold`."""
    check_comparable(baseline, candidate)
    check_thresholds(thresholds, has_baseline=True)
    pairs, unpaired = pair_results(baseline_results, candidate_results)
    verdicts = [(base["item_id"], verdict_of(base, cand)) for base, cand in pairs]
    regressed = [item for item, verdict in verdicts if verdict == "regressed"]
    improved = [item for item, verdict in verdicts if verdict == "improved"]
    comparison = {
        "baseline": describe(baseline), "candidate": describe(candidate), "paired": len(pairs), "unpaired": unpaired,
        "regressed": regressed, "improved": improved, "unchanged": len(pairs) - len(regressed) - len(improved),
        **paired_metrics(pairs, mcnemar_p(len(regressed), len(improved))),
        "scores": compare_scores(pairs), "items": paired_items(pairs),
    }
    return with_verdict(comparison, thresholds)


def gate_alone(candidate: dict[str, Any], results: Sequence[Result], thresholds: Thresholds) -> dict[str, Any]:
    """The candidate gated on absolute thresholds (its pass rate), in the comparison's shape with
    an empty baseline, so one renderer serves both."""
    check_comparable(candidate)
    check_thresholds(thresholds, has_baseline=False)
    summary = summarize([judged(r) for r in results])
    comparison = {
        "baseline": None, "candidate": describe(candidate), "paired": 0,
        "unpaired": {"baseline_only": 0, "candidate_only": len(results)},
        "regressed": [], "improved": [], "unchanged": 0,
        "pass_rate": {"baseline": None, "candidate": summary["pass_rate"], "change": None, "p_value": None},
        **{field: one_sided(summary[field]) for field in ("cost_total", "cost_per_item", "latency_p50_ms",
                                                          "latency_p95_ms")},
        "errors": {"baseline": None, "candidate": summary["errors"]},
        "summary": {"baseline": None, "candidate": summary}, "scores": {},
        "items": sorted(({"item_id": r["item_id"], "verdict": "passed" if passes(r) else "failed",
                          "baseline": None, "candidate": answer(r)} for r in results), key=item_order),
    }
    return with_verdict(comparison, thresholds)


def with_verdict(comparison: dict[str, Any], thresholds: Thresholds) -> dict[str, Any]:
    checks = gate_checks(comparison, thresholds)
    return {**comparison, "thresholds": thresholds.as_json(), "checks": checks,
            "passed": all(check["passed"] for check in checks),
            "reasons": [check["message"] for check in checks if not check["passed"]]}


def describe(experiment: dict[str, Any]) -> dict[str, Any]:
    return {key: experiment.get(key) for key in ("name", "dataset", "dataset_version", "status", "target")}


# --- pairing and verdicts -------------------------------------------------------------------------


def pair_results(baseline: Sequence[Result], candidate: Sequence[Result]) -> tuple[list[tuple[Result, Result]],
                                                                                    dict[str, int]]:
    """(baseline, candidate) per item both ran, in item order, and how many each ran alone."""
    by_item = {result["item_id"]: result for result in candidate}
    base_items = {result["item_id"] for result in baseline}
    pairs = [(result, by_item[result["item_id"]]) for result in sorted(baseline, key=lambda r: r["item_id"])
             if result["item_id"] in by_item]
    return pairs, {"baseline_only": len(base_items - by_item.keys()),
                   "candidate_only": len(by_item.keys() - base_items)}


def judged(result: Result) -> Result:
    """The result with `passed` as the comparison counts it, so the summary's pass rate agrees."""
    return result | {"passed": passes(result)}


def verdict_of(baseline: Result, candidate: Result) -> str:
    before, after = passes(baseline), passes(candidate)
    return "regressed" if before and not after else "improved" if after and not before else "unchanged"


def mcnemar_p(regressed: int, improved: int) -> float:
    """McNemar's exact test: under no change each discordant pair is a fair coin; 1 with none."""
    discordant = regressed + improved
    if discordant == 0:
        return 1.0
    return float(binomtest(regressed, discordant, 0.5, alternative="two-sided").pvalue)


def paired_items(pairs: Sequence[tuple[Result, Result]]) -> list[dict[str, Any]]:
    """Per item both answers and the verdict; regressions first, then improvements."""
    items = [{"item_id": base["item_id"], "verdict": verdict_of(base, cand), "baseline": answer(base),
              "candidate": answer(cand)} for base, cand in pairs]
    return sorted(items, key=item_order)


def item_order(item: dict[str, Any]) -> tuple[int, int]:
    return VERDICT_ORDER[item["verdict"]], item["item_id"]


def answer(result: Result) -> dict[str, Any]:
    keys = ("output", "error", "passed", "scores", "latency_ms", "cost", "trace_id", "span_id")
    return {key: result.get(key) for key in keys} | {"passed": passes(result)}


# --- pass rate, cost and latency ------------------------------------------------------------------


def paired_metrics(pairs: Sequence[tuple[Result, Result]], p_value: float) -> dict[str, Any]:
    base = summarize([judged(b) for b, _ in pairs])
    cand = summarize([judged(c) for _, c in pairs])
    rates = (base["pass_rate"], cand["pass_rate"])
    change = rates[1] - rates[0] if None not in rates else None
    return {
        "pass_rate": {"baseline": rates[0], "candidate": rates[1], "change": change, "p_value": p_value},
        **priced_cost(pairs),
        "latency_p50_ms": side_by_side(base["latency_p50_ms"], cand["latency_p50_ms"]),
        "latency_p95_ms": side_by_side(base["latency_p95_ms"], cand["latency_p95_ms"]),
        "errors": {"baseline": base["errors"], "candidate": cand["errors"]},
        "summary": {"baseline": base, "candidate": cand},
    }


def priced_cost(pairs: Sequence[tuple[Result, Result]]) -> dict[str, Any]:
    """Total and per-item cost over the items priced on both sides."""
    priced = [(b["cost"], c["cost"]) for b, c in pairs if b.get("cost") is not None and c.get("cost") is not None]
    if not priced:
        return {"cost_total": side_by_side(None, None) | {"items": 0}, "cost_per_item": side_by_side(None, None)}
    before, after = math.fsum(b for b, _ in priced), math.fsum(c for _, c in priced)
    return {"cost_total": side_by_side(before, after) | {"items": len(priced)},
            "cost_per_item": side_by_side(before / len(priced), after / len(priced))}


def side_by_side(before: float | None, after: float | None) -> dict[str, Any]:
    return {"baseline": before, "candidate": after, "change_pct": relative_change(before, after)}


def one_sided(value: float | None) -> dict[str, Any]:
    return {"baseline": None, "candidate": value, "change_pct": None}


def relative_change(before: float | None, after: float | None) -> float | None:
    """Percent change from `before`; None when either is missing or `before` is 0 (unbounded)."""
    if before is None or after is None:
        return None
    if before == 0:
        return 0.0 if after == 0 else None
    return round((after - before) / before * 100, 6)  # so a change equal to a threshold is not 1e-14 above it


# --- scores ---------------------------------------------------------------------------------------


def compare_scores(pairs: Sequence[tuple[Result, Result]]) -> dict[str, dict[str, Any]]:
    """Per scorer with a numeric value on both sides of some item: the paired change."""
    values: dict[str, list[tuple[float, float]]] = {}
    for base, cand in pairs:
        before, after = numeric_scores(base), numeric_scores(cand)
        for name in before.keys() & after.keys():
            values.setdefault(name, []).append((before[name], after[name]))
    return {name: score_change(found) for name, found in sorted(values.items())}


def numeric_scores(result: Result) -> dict[str, float]:
    found = {}
    for name, score in (result.get("scores") or {}).items():
        value = score.get("value") if isinstance(score, dict) else None
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            found[name] = float(value)
    return found


def score_change(pairs: Sequence[tuple[float, float]]) -> dict[str, Any]:
    before, after = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
    diffs = after - before
    nonzero = int(np.count_nonzero(diffs))
    change = {"n": len(pairs), "nonzero": nonzero, "baseline_mean": float(before.mean()),
              "candidate_mean": float(after.mean()), "mean_difference": float(diffs.mean()),
              "test": None, "p_value": None, "effect_size": None, "ci_low": None, "ci_high": None, "note": ""}
    if nonzero < MIN_NONZERO_PAIRS:
        why = "no item's score changed" if nonzero == 0 else f"too few pairs: {nonzero} item(s) changed"
        return change | {"note": f"{why}, the test needs {MIN_NONZERO_PAIRS}"}
    low, high = bootstrap_interval(diffs)
    return change | {"test": "wilcoxon", "p_value": wilcoxon_p(diffs), "effect_size": rank_biserial(diffs),
                     "ci_low": low, "ci_high": high}


def wilcoxon_p(diffs: np.ndarray) -> float:
    """Two-sided signed-rank test, zero differences dropped (Wilcoxon's own treatment)."""
    return float(wilcoxon(diffs, zero_method="wilcox", alternative="two-sided").pvalue)


def rank_biserial(diffs: np.ndarray) -> float:
    """Matched-pairs rank-biserial correlation (Kerby 2014): from -1 (every change a drop) to +1."""
    nonzero = diffs[diffs != 0]
    ranks = rankdata(np.abs(nonzero))
    return float((ranks[nonzero > 0].sum() - ranks[nonzero < 0].sum()) / ranks.sum())


def bootstrap_interval(diffs: np.ndarray) -> tuple[float | None, float | None]:
    """95% percentile bootstrap of the mean difference (BCa is unstable on 0/1 scores)."""
    found = bootstrap((diffs,), np.mean, n_resamples=BOOTSTRAP_RESAMPLES, method="percentile",
                      random_state=np.random.default_rng(BOOTSTRAP_SEED)).confidence_interval
    return _finite(found.low), _finite(found.high)


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None

