"""The shadow report from its reads (`schemas.clickhouse.shadow`): pure, no database.

Answer agreement is the token-set Jaccard similarity of the two answers' words: cheap, needs no
model, 1.0 for the same answer and 0.0 for answers with no word in common. It is computed over a
bounded sample of each model pair's pairs (the answers' text is the costly part to read), so its
mean says on how many pairs it rests; the cost and latency deltas rest on every pair.
"""

from __future__ import annotations

import json
import re
from typing import Any

from detectors.scoring.texts import answer_text

_WORD = re.compile(r"\w+", re.UNICODE)
MAX_ANSWER_CHARS = 2000  # of each answer shown in the divergent list


def agreement(first: str, second: str) -> float:
    """Jaccard similarity of the two texts' lower-cased word sets; two empty answers agree."""
    a, b = set(_WORD.findall(first.lower())), set(_WORD.findall(second.lower()))
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def answer_of(output_messages: str) -> str:
    """The answer text of a span's stored output messages (JSON), '' when there is none."""
    try:
        messages = json.loads(output_messages) if output_messages else []
    except ValueError:
        return ""
    return answer_text(messages) if isinstance(messages, list) else ""


def build_report(totals: list[dict[str, Any]], sample: list[dict[str, Any]], unpaired: list[dict[str, Any]],
                 unpaired_total: int, divergent: int) -> dict[str, Any]:
    """The API's answer: one entry per model pair, and the shadow calls without a primary."""
    scored = [_scored(pair) for pair in sample]
    by_models: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for pair in scored:
        by_models.setdefault((pair["primary_model"], pair["candidate_model"]), []).append(pair)
    return {"pairs": [_model_pair(row, by_models.get((row["primary_model"], row["candidate_model"]), []),
                                  divergent) for row in totals],
            "unpaired": unpaired, "unpaired_total": unpaired_total}


def _scored(pair: dict[str, Any]) -> dict[str, Any]:
    primary, candidate = answer_of(pair["primary_output"]), answer_of(pair["candidate_output"])
    return {**pair, "primary_answer": primary, "candidate_answer": candidate,
            "agreement": agreement(primary, candidate)}


def _model_pair(row: dict[str, Any], sample: list[dict[str, Any]], divergent: int) -> dict[str, Any]:
    ordered = sorted(sample, key=lambda p: (p["agreement"], p["trace_id"]))
    return {
        "primary_model": row["primary_model"], "candidate_model": row["candidate_model"], "pairs": row["pairs"],
        "cost_delta": {"mean": _number(row["cost_delta_mean"]), "total": _number(row["cost_delta_total"]),
                       "priced_pairs": row["priced_pairs"]},
        "latency_delta_ms": {"mean": _number(row["latency_delta_mean"]),
                             "median": _number(row["latency_delta_median"])},
        "agreement": _mean([p["agreement"] for p in sample]), "agreement_sample": len(sample),
        "groundedness": {"primary": _number(row["primary_groundedness"]), "primary_scored": row["primary_scored"],
                         "candidate": _number(row["candidate_groundedness"]),
                         "candidate_scored": row["candidate_scored"]},
        "judge_preference": _preference(row),
        "most_divergent": [_divergent(p) for p in ordered[:divergent]],
    }


def _preference(row: dict[str, Any]) -> dict[str, Any] | None:
    """How often each side was preferred, one verdict per pair (a person's over the app's over the
    judge's); whose verdicts those are; and, where the judge and a person or the app both gave one,
    how often they agreed: how far the judge's share can be trusted. None when no pair was judged."""
    counts = {"primary": row["prefer_primary"], "candidate": row["prefer_candidate"], "tie": row["prefer_tie"]}
    judged = sum(counts.values())
    if not judged:
        return None
    checked, agreed = row["judge_checked"], row["judge_agreed"]
    return {**counts, "judged": judged, "candidate_share": counts["candidate"] / judged,
            "sources": {"judge": row["preferred_by_judge"], "app": row["preferred_by_app"],
                        "human": row["preferred_by_human"]},
            "judge_agreement": {"pairs": checked, "agreed": agreed, "rate": agreed / checked if checked else None}}


def _divergent(pair: dict[str, Any]) -> dict[str, Any]:
    return {"trace_id": pair["trace_id"], "primary_span_id": pair["primary_id"],
            "candidate_span_id": pair["candidate_id"], "agreement": round(pair["agreement"], 4),
            "primary_answer": pair["primary_answer"][:MAX_ANSWER_CHARS],
            "candidate_answer": pair["candidate_answer"][:MAX_ANSWER_CHARS]}


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def _number(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if number != number else round(number, 9)  # NaN (no pair to average) -> null
