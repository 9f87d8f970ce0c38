"""An experiment's summary from its per-item results: what the API, the CLI and the UI show.

The pass rate always comes with its 95% Wilson interval (the same interval as the hallucination
rate): a golden set of 50 items measures a pass rate to about ±13 points, and a reader deciding
on a deploy must see that. An item that errored counts as not passed. Cost sums priced items
only and says how many were unpriced, never counting them as $0.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from detectors.scoring.interval import wilson_interval


def summarize(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """`results` as `ExperimentStore.results` gives them; the summary fields of
    GET /api/v1/experiments/<name>."""
    items, passed = len(results), sum(1 for r in results if passes(r))
    low, high = wilson_interval(passed, items)
    costs = [r["cost"] for r in results if r["cost"] is not None]
    latencies = [r["latency_ms"] for r in results if r["latency_ms"] is not None and not r["error"]]
    return {
        "items": items, "passed": passed, "pass_rate": passed / items if items else None,
        "ci_low": low if items else None, "ci_high": high if items else None,
        "errors": sum(1 for r in results if r["error"]),
        "cost_total": float(sum(costs)) if costs else None, "cost_per_item": float(np.mean(costs)) if costs else None,
        "unpriced": items - len(costs),
        "latency_p50_ms": percentile(latencies, 50), "latency_p95_ms": percentile(latencies, 95),
        "scores": mean_scores(results),
    }


def passes(result: dict[str, Any]) -> bool:
    """Passed, and not an error: an item that errored or was not judged does not count as passing
    (the same rule for the summary and the comparison's pairs, evals.compare)."""
    return result.get("passed") is True and not result.get("error")


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default, as ClickHouse's quantile is not
    exact either); None for no values, never NaN."""
    return float(np.percentile(values, q)) if values else None


def mean_scores(results: Sequence[dict[str, Any]]) -> dict[str, dict[str, float | int]]:
    """Per scorer: the mean value and how many items it scored."""
    values: dict[str, list[float]] = {}
    for result in results:
        for name, score in (result.get("scores") or {}).items():
            if score.get("value") is not None:
                values.setdefault(name, []).append(float(score["value"]))
    return {name: {"mean": float(np.mean(found)), "n": len(found)} for name, found in sorted(values.items())}
