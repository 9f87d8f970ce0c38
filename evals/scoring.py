"""Scoring an experiment's answers, and filing each score as an evaluation row of the item's span.

Per answered item: the deterministic checks (`evals.scorers`: assertions, exact and normalized
match, JSON validity and schema), the offline groundedness scorer when the item's metadata carries
its context documents (`context` or `documents`), and, when a judge is configured, the LLM judge's
correctness against the expected answer and relevance to the question. The judge's correctness
gates in place of `expected_match` (a string match cannot see "two weeks" = "14 days"); when the
judge gives no verdict the match gates again, so a judge outage never passes an item unchecked.

Every score becomes an evaluation row (source `experiment`, scorer `experiment:<check>`) on the
item's span, so it shows where production scores show. Only groundedness sets `hallucinated`
("the regex did not match" is no hallucination); the project's hallucination rate leaves the
source `experiment` out altogether, as it measures production (schemas.clickhouse.quality).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from genai_prices import Usage, calc_price

from detectors.hallucination import SCORE_GROUNDEDNESS
from detectors.scoring.answer_judge import AnswerVerdict, judge_correctness, judge_relevance
from detectors.scoring.judge import JudgeConfig
from detectors.scoring.verdict import GROUNDED, HALLUCINATED, Groundedness
from detectors.worker import Failed, WorkerError, run_batch
from evals.results import SpanKey, SpanReading
from evals.scorers import CHECKS, Check, item_passed, score_answer
from schemas.clickhouse.evaluations import evaluation_key
from schemas.clickhouse.quality import SOURCE_EXPERIMENT

log = logging.getLogger(__name__)

SCORER_PREFIX = "experiment:"
GROUNDEDNESS, CORRECTNESS, RELEVANCE = "groundedness", "correctness", "relevance"
CONTEXT_KEYS = ("context", "documents")  # item metadata holding the texts an answer must be grounded in


@dataclass(frozen=True)
class Scorers:
    judge: JudgeConfig | None = None
    judge_concurrency: int = 4


def score_results(results: Sequence[dict[str, Any]], items: dict[int, dict[str, Any]],
                  scorers: Scorers) -> list[dict[str, Any]]:
    """Each result with `passed` and `scores` set; an item that errored did not pass and is not scored."""
    answered = [r for r in results if not r.get("error")]
    verdicts = _judge_all(answered, items, scorers)
    grounded = _groundedness(answered, items)
    scored = {r["item_id"]: _scored(r, items[r["item_id"]], verdicts.get(r["item_id"], {}),
                                    grounded.get(r["item_id"])) for r in answered}
    return [scored.get(r["item_id"]) or {**r, "passed": False} for r in results]


def _scored(result: dict[str, Any], item: dict[str, Any], verdicts: dict[str, AnswerVerdict],
            grounded: Groundedness | Failed | None) -> dict[str, Any]:
    correctness = verdicts.get(CORRECTNESS)
    judged = correctness is not None and correctness.passed is not None
    checks = score_answer(result["output"], item.get("expected"), item.get("assertions") or {},
                          expected_gates=not judged)
    passed = item_passed(checks) and (not judged or bool(correctness.passed))  # type: ignore[union-attr]
    scores = {**result.get("scores", {}), **{c.name: _check_json(c) for c in checks}}
    scores.update({name: _verdict_json(v, gates=name == CORRECTNESS) for name, v in verdicts.items()})
    if grounded is not None:
        scores[GROUNDEDNESS] = _groundedness_json(grounded)
    return {**result, "passed": passed, "scores": scores}


def _check_json(check: Check) -> dict[str, Any]:
    return {"value": check.value, "passed": check.passed, "gates": check.gates, "reason": check.reason}


def _verdict_json(verdict: AnswerVerdict, gates: bool) -> dict[str, Any]:
    return {"value": verdict.score, "passed": verdict.passed, "gates": gates and verdict.passed is not None,
            "reason": verdict.reason or verdict.error, "error": verdict.error or None, "model": verdict.model,
            "input_tokens": verdict.input_tokens, "output_tokens": verdict.output_tokens}


def _groundedness_json(result: Groundedness | Failed) -> dict[str, Any]:
    if isinstance(result, Failed):
        return {"value": None, "passed": None, "gates": False, "reason": result.error, "error": result.error}
    return {"value": result.score, "passed": result.label == GROUNDED if result.label in (GROUNDED, HALLUCINATED)
            else None, "gates": False, "label": result.label, "reason": result.reason}


def _judge_all(answered: Sequence[dict[str, Any]], items: dict[int, dict[str, Any]],
               scorers: Scorers) -> dict[int, dict[str, AnswerVerdict]]:
    if scorers.judge is None or not answered:
        return {}
    with ThreadPoolExecutor(max_workers=scorers.judge_concurrency, thread_name_prefix="experiment-judge") as pool:
        futures = {r["item_id"]: pool.submit(_judge_one, scorers.judge, r["output"], items[r["item_id"]])
                   for r in answered}
        return {item_id: future.result() for item_id, future in futures.items()}


def _judge_one(judge: JudgeConfig, output: str, item: dict[str, Any]) -> dict[str, AnswerVerdict]:
    question = item_question(item)
    verdicts = {RELEVANCE: judge_relevance(judge, question, output)}
    if item.get("expected") is not None:
        verdicts[CORRECTNESS] = judge_correctness(judge, question, output, item["expected"])
    return verdicts


def _groundedness(answered: Sequence[dict[str, Any]], items: dict[int, dict[str, Any]]
                  ) -> dict[int, Groundedness | Failed]:
    """Scored in a short-lived worker process (scikit-learn stays out of the service's memory)."""
    cases = [(r["item_id"], (r["output"], contexts, item_question(items[r["item_id"]])))
             for r in answered if r["output"] and (contexts := item_contexts(items[r["item_id"]]))]
    if not cases:
        return {}
    try:
        found = run_batch(SCORE_GROUNDEDNESS, [(arguments, {}) for _, arguments in cases])
    except WorkerError as exc:
        log.error("groundedness scoring failed: %s", exc)
        found = [Failed(str(exc))] * len(cases)
    return {item_id: result for (item_id, _), result in zip(cases, found, strict=True)}


def item_question(item: dict[str, Any]) -> str:
    """The item's question: its text, or the last user message of its chat input."""
    value = item.get("input")
    if isinstance(value, str):
        return value
    users = [m.get("content", "") for m in value or [] if isinstance(m, dict) and m.get("role") == "user"]
    return users[-1] if users else ""


def item_contexts(item: dict[str, Any]) -> list[str]:
    """The documents an answer must be grounded in, from the item's metadata: a text or a list of
    texts or of {"content"|"text"} objects under `context` or `documents`."""
    metadata = item.get("metadata") or {}
    found: list[str] = []
    for key in CONTEXT_KEYS:
        value = metadata.get(key)
        for part in value if isinstance(value, list) else [value]:
            text = part.get("content") or part.get("text") if isinstance(part, dict) else part
            if isinstance(text, str) and text.strip():
                found.append(text)
    return found


def evaluation_rows(project: str, results: Sequence[dict[str, Any]],
                    readings: dict[SpanKey, SpanReading]) -> list[dict[str, Any]]:
    """One row per score of each result whose span was read back (a row is filed at its span's time)."""
    rows = []
    for result in results:
        reading = readings.get((result.get("trace_id") or "", result.get("span_id") or ""))
        if reading is not None:
            rows += [_row(project, reading, name, score) for name, score in (result.get("scores") or {}).items()
                     if name in _SCORED or name in _CHECK_NAMES]
    return rows


def _row(project: str, reading: SpanReading, name: str, score: dict[str, Any]) -> dict[str, Any]:
    scorer = SCORER_PREFIX + name
    return {
        "project_id": project, "trace_id": reading.trace_id, "span_id": reading.span_id,
        "evaluation_id": evaluation_key(f"{scorer}|{reading.trace_id}|{reading.span_id}"), "scorer": scorer,
        "name": name, "score": score.get("value"), "label": _label(name, score),
        "reason": str(score.get("reason") or "")[:4000], "hallucinated": _hallucinated(name, score),
        "request_model": reading.request_model, "span_time": reading.start_time, "source": SOURCE_EXPERIMENT,
        "cost": _judge_cost(score), "input_tokens": int(score.get("input_tokens") or 0),
        "output_tokens": int(score.get("output_tokens") or 0), "error": str(score.get("error") or "")[:2000],
    }


def _label(name: str, score: dict[str, Any]) -> str:
    if score.get("error"):
        return "error"
    if name == GROUNDEDNESS:
        return str(score.get("label") or "")
    words = {CORRECTNESS: ("correct", "incorrect"), RELEVANCE: ("relevant", "irrelevant")}.get(name, ("pass", "fail"))
    return "" if score.get("passed") is None else words[0] if score["passed"] else words[1]


def _hallucinated(name: str, score: dict[str, Any]) -> bool | None:
    if name != GROUNDEDNESS or score.get("label") not in (GROUNDED, HALLUCINATED):
        return None
    return score["label"] == HALLUCINATED


def _judge_cost(score: dict[str, Any]) -> Decimal | None:
    """What a judge's own call cost at list price; None for other scores or an unknown model."""
    tokens = (int(score.get("input_tokens") or 0), int(score.get("output_tokens") or 0))
    if not any(tokens) or not score.get("model"):
        return None
    try:
        usage = Usage(input_tokens=tokens[0], output_tokens=tokens[1])
        return Decimal(calc_price(usage, model_ref=score["model"]).total_price)
    except LookupError:
        return None


_SCORED = frozenset({GROUNDEDNESS, CORRECTNESS, RELEVANCE})
_CHECK_NAMES = frozenset({"exact_match", "expected_match", *CHECKS})
