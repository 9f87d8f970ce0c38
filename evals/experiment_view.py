"""An experiment as GET /api/v1/experiments/<name> shows it: the contract's fields, progress, and
per-item results with the item's input and expected answer beside the answer.

The summary comes only from a `done` experiment: while it runs its results are provisional (not
yet read back nor scored), and a failed one may have stopped half way, so both show null summary
fields rather than numbers that would read as final.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from evals.summary import summarize

SUMMARY_FIELDS = ("items", "passed", "pass_rate", "ci_low", "ci_high", "errors", "cost_total", "cost_per_item",
                  "unpriced", "latency_p50_ms", "latency_p95_ms", "scores")


def experiment_view(experiment: dict[str, Any], results: Sequence[dict[str, Any]],
                    items: dict[int, dict[str, Any]] | None) -> dict[str, Any]:
    """`items` by id from the dataset version (None when the dataset was deleted since)."""
    summary = summarize(results) if experiment["status"] == "done" else dict.fromkeys(SUMMARY_FIELDS)
    return {
        "name": experiment["name"], "dataset": experiment["dataset"], "dataset_version": experiment["dataset_version"],
        "status": experiment["status"], **summary, "runner": experiment["runner"], "reason": experiment["reason"],
        "progress": {"items_done": experiment["items_done"], "items_total": experiment["items_total"]},
        "target": experiment["target"], "created_at": experiment["created_at"],
        "finished_at": experiment["finished_at"],
        "results": [_result(r, (items or {}).get(r["item_id"])) for r in results],
    }


def experiment_listing(experiment: dict[str, Any]) -> dict[str, Any]:
    """One line of GET /api/v1/experiments: no results, no summary (those are per experiment)."""
    return {key: experiment[key] for key in ("name", "dataset", "dataset_version", "runner", "status", "reason",
                                             "items_total", "items_done", "created_at", "finished_at")}


# An experiment's per-item result (`_result`), in the order of its CSV's columns.
RESULT_COLUMNS = ("item_id", "input", "expected", "output", "passed", "scores", "error", "cost", "latency_ms",
                  "input_tokens", "output_tokens", "trace_id", "span_id")


def _result(result: dict[str, Any], item: dict[str, Any] | None) -> dict[str, Any]:
    return {"item_id": result["item_id"], "output": result["output"], "passed": result["passed"],
            "scores": result["scores"], "trace_id": result["trace_id"], "span_id": result["span_id"],
            "error": result["error"], "cost": result["cost"], "latency_ms": result["latency_ms"],
            "input_tokens": result["input_tokens"], "output_tokens": result["output_tokens"],
            "input": item["input"] if item else None, "expected": item["expected"] if item else None}
