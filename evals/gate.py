"""The gate's rules: which two experiments may be compared, the thresholds, and each check's verdict.

This module imports no SciPy, so the UI process can refuse a bad request (unknown thresholds,
different dataset versions, an unfinished run) before it hands the statistics to a worker process
(`evals.compare`, run through `detectors.worker` like drift). A check that cannot be computed
(a cost change when one side has no priced item) fails: a gate must not pass for want of a number.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

ALPHA = 0.05  # the default rule: a significantly worse pass rate fails even without thresholds
NOT_CHECKED = None


class CompareRefused(ValueError):
    """Two experiments that cannot be compared; the message says why and what to do."""


class DifferentDatasets(CompareRefused):
    """Run on different datasets or dataset versions: their items are not the same inputs."""


class NotFinished(CompareRefused):
    """Still running, or failed: its results are incomplete and its summary would change."""


class BadThreshold(ValueError):
    """A threshold out of its range, or one that needs a baseline when there is none."""


@dataclass(frozen=True)
class Thresholds:
    """Each None is not checked. Increases are percentages of the baseline's value (20 = +20%);
    a negative one demands a decrease."""

    min_pass_rate: float | None = None
    max_regressions: int | None = None
    max_cost_increase: float | None = None
    max_p95_increase: float | None = None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    def relative(self) -> list[str]:
        """The thresholds that compare against a baseline."""
        names = ("max_regressions", "max_cost_increase", "max_p95_increase")
        return [name for name in names if getattr(self, name) is not None]


def check_thresholds(thresholds: Thresholds, has_baseline: bool) -> Thresholds:
    """The thresholds if every one is in its range; without a baseline only the pass rate can be gated."""
    rate = thresholds.min_pass_rate
    if rate is not None and not (math.isfinite(rate) and 0 <= rate <= 1):
        raise BadThreshold(f"min_pass_rate must be a fraction between 0 and 1 (0.8 for 80%), got {rate}")
    if thresholds.max_regressions is not None and thresholds.max_regressions < 0:
        raise BadThreshold(f"max_regressions must be 0 or more, got {thresholds.max_regressions}")
    for name in ("max_cost_increase", "max_p95_increase"):
        value = getattr(thresholds, name)
        if value is not None and not (math.isfinite(value) and value >= -100):
            raise BadThreshold(f"{name} is a percentage of the baseline, -100 or more, got {value}")
    if not has_baseline and thresholds.relative():
        raise BadThreshold(f"{', '.join(thresholds.relative())} compare against a baseline: give one, "
                           "or gate the candidate alone with min_pass_rate")
    if not has_baseline and rate is None:
        raise BadThreshold("without a baseline there is nothing to gate on: give min_pass_rate (or a baseline)")
    return thresholds


def check_comparable(baseline: dict[str, Any], candidate: dict[str, Any] | None = None) -> None:
    """Refuse unfinished experiments and pairs on different dataset versions (experiment_json dicts)."""
    for experiment in (baseline, candidate):
        if experiment is not None and experiment["status"] != "done":
            why = f" ({experiment['reason']})" if experiment.get("reason") else ""
            raise NotFinished(f"experiment {experiment['name']!r} is {experiment['status']}{why}, not done: "
                              "only a finished experiment can be gated")
    if candidate is None:
        return
    if _reused_name(baseline, candidate):
        raise DifferentDatasets(f"baseline {baseline['name']!r} and candidate {candidate['name']!r} ran on two "
                                f"different datasets named {baseline['dataset']!r} (one was deleted and its name "
                                "reused): their items differ; run both on one dataset version")
    same = (baseline["dataset"], baseline["dataset_version"]) == (candidate["dataset"], candidate["dataset_version"])
    if not same:
        raise DifferentDatasets(f"baseline {baseline['name']!r} ran on {_version(baseline)} and candidate "
                                f"{candidate['name']!r} on {_version(candidate)}: a paired comparison needs the "
                                "same items; run both on one dataset version")


def _reused_name(baseline: dict[str, Any], candidate: dict[str, Any]) -> bool:
    """Same dataset name, different datasets: one was deleted and its name reused for other items."""
    ids = (baseline.get("dataset_id"), candidate.get("dataset_id"))
    return baseline["dataset"] == candidate["dataset"] and None not in ids and ids[0] != ids[1]


def _version(experiment: dict[str, Any]) -> str:
    return f"dataset {experiment['dataset']!r} version {experiment['dataset_version']}"


# --- the checks: each a dict {"check", "limit", "value", "passed", "message"} ---------------------


def gate_checks(comparison: dict[str, Any], thresholds: Thresholds) -> list[dict[str, Any]]:
    """Every check that applies, in a fixed order; the default significance rule first when paired."""
    checks = [significance_check(comparison)] if comparison.get("baseline") else []
    if thresholds.min_pass_rate is not None:
        checks.append(pass_rate_check(comparison["pass_rate"]["candidate"], thresholds.min_pass_rate))
    if thresholds.max_regressions is not None:
        checks.append(regressions_check(len(comparison["regressed"]), thresholds.max_regressions))
    if thresholds.max_cost_increase is not None:
        checks.append(increase_check("cost_total", "cost", comparison["cost_total"], thresholds.max_cost_increase))
    if thresholds.max_p95_increase is not None:
        checks.append(increase_check("latency_p95_ms", "latency p95", comparison["latency_p95_ms"],
                                     thresholds.max_p95_increase))
    return checks


def significance_check(comparison: dict[str, Any]) -> dict[str, Any]:
    regressed, improved = len(comparison["regressed"]), len(comparison["improved"])
    p_value = comparison["pass_rate"]["p_value"]
    worse = p_value < ALPHA and regressed > improved
    counts = f"{regressed} regression(s) against {improved} improvement(s), McNemar p = {p_value:.4f}"
    message = (f"the pass rate is significantly worse: {counts} < {ALPHA}" if worse
               else f"the pass rate is not significantly worse: {counts}")
    return _check("pass_rate_not_worse", ALPHA, p_value, not worse, message)


def pass_rate_check(rate: float | None, minimum: float) -> dict[str, Any]:
    if rate is None:
        return _check("min_pass_rate", minimum, None, False, "no pass rate: the candidate has no results")
    passed = rate >= minimum
    relation = "at least" if passed else "below"
    return _check("min_pass_rate", minimum, rate, passed, f"pass rate {rate:.1%} is {relation} the minimum "
                                                          f"{minimum:.1%}")


def regressions_check(count: int, maximum: int) -> dict[str, Any]:
    passed = count <= maximum
    relation = "within" if passed else "above"
    return _check("max_regressions", maximum, count, passed, f"{count} regression(s), {relation} the maximum "
                                                             f"{maximum}")


def increase_check(field: str, label: str, change: dict[str, Any], maximum: float) -> dict[str, Any]:
    name = {"cost_total": "max_cost_increase", "latency_p95_ms": "max_p95_increase"}[field]
    before, after, pct = change["baseline"], change["candidate"], change["change_pct"]
    if pct is None:
        why = "a side has none" if before is None or after is None else "the baseline's is 0"
        return _check(name, maximum, None, False, f"the {label} change cannot be computed ({why}), so the "
                                                  f"maximum increase of {maximum:g}% cannot be checked")
    passed = pct <= maximum
    relation = "within" if passed else "above"
    shown = format_cost if field == "cost_total" else format_ms
    return _check(name, maximum, pct, passed, f"{label} changed {pct:+.1f}% ({shown(before)} -> {shown(after)}), "
                                              f"{relation} the maximum increase of {maximum:g}%")


def _check(name: str, limit: float, value: float | None, passed: bool, message: str) -> dict[str, Any]:
    return {"check": name, "limit": limit, "value": value, "passed": passed, "message": message}


def format_cost(value: float | None) -> str:
    return "n/a" if value is None else f"${value:.4f}" if value < 1 else f"${value:,.2f}"


def format_ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f} ms" if value < 10_000 else f"{value / 1000:,.1f} s"
