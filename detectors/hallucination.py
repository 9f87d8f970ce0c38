"""The hallucination detector: scores a deterministic sample of LLM spans and imports apps' scores.

Per project it (1) copies `gen_ai.evaluation.result` events the app sent into evaluations,
(2) scores sampled spans that have something to be grounded in (retrieved documents, tool
results or a labelled context block) with the offline groundedness scorer, and (3) when an
OpenAI-compatible judge is configured, asks it too and records what the judge itself cost.
A span whose scoring fails gets an evaluation row with the error, so it is not retried forever.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from detectors.base import DetectorContext, RunResult
from detectors.scoring.judge import JudgeConfig, judge_groundedness
from detectors.scoring.judge_price import judge_cost
from detectors.scoring.texts import answer_text, extract_context, has_grounding, parse_messages
from detectors.scoring.verdict import HALLUCINATED, UNKNOWN, Groundedness
from detectors.worker import Failed, run_batch
from schemas.clickhouse.evaluations import (
    SpanToScore,
    evaluation_key,
    import_app_evaluations,
    insert_evaluations,
    sampled_spans,
)
from schemas.clickhouse.quality import SOURCE_JUDGE, SOURCE_OFFLINE

log = logging.getLogger(__name__)

OFFLINE_SCORER = "groundedness"
SCORE_GROUNDEDNESS = "detectors.scoring.groundedness:score_groundedness"  # run in the worker process
JUDGE_SCORER = "llm_judge"
IMPORT_KEY = "hallucination.imported_until"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
VISIBILITY_LAG = timedelta(minutes=2)  # rows become readable a little after their ingested_at


@dataclass(frozen=True)
class SamplingSettings:
    lookback: timedelta = timedelta(days=1)  # spans older than this when first seen are not scored
    max_per_run: int = 500  # per project and scorer: a backlog is worked off over several runs


class HallucinationDetector:
    name = "hallucination"

    def __init__(self, interval: float, judge: JudgeConfig | None = None,
                 sampling: SamplingSettings = SamplingSettings()) -> None:
        self.interval, self.judge, self.sampling = interval, judge, sampling

    def run(self, ctx: DetectorContext) -> RunResult:
        since = _parse_time(ctx.state.get(IMPORT_KEY)) - timedelta(minutes=2)
        imported = scored = 0
        for project in ctx.metadata.list_projects():
            imported += import_app_evaluations(ctx.store, project.name, since)
            scored += self._score_project(ctx, project.name, project.eval_sample_rate)
        ctx.state.set(IMPORT_KEY, ctx.now.isoformat())
        return RunResult(rows_read=scored, rows_written=scored + imported,
                         message=f"{scored} span(s) scored, {imported} app evaluation(s) imported")

    def _score_project(self, ctx: DetectorContext, project: str, rate: float) -> int:
        scorers = [(OFFLINE_SCORER, self._offline_rows)] + ([(JUDGE_SCORER, self._judge_rows)] if self.judge else [])
        total = 0
        for scorer, score in scorers:
            key = f"hallucination.{project}.{scorer}.ingested_until"
            since = _parse_time(ctx.state.get(key))
            spans = sampled_spans(ctx.store, project, rate, since, ctx.now - self.sampling.lookback, scorer,
                                  self.sampling.max_per_run)
            rows = score(project, spans)
            insert_evaluations(ctx.store, rows)
            ctx.state.set(key, self._next_since(ctx, spans).isoformat())
            total += len(rows)
        return total

    def _next_since(self, ctx: DetectorContext, spans: list[SpanToScore]) -> datetime:
        """Where the next run starts reading: after a full batch, at its last span (the backlog goes
        on); otherwise shortly before this run, as spans ingested meanwhile may not be visible yet."""
        if len(spans) >= self.sampling.max_per_run and spans[-1].ingested_at is not None:
            return spans[-1].ingested_at.replace(tzinfo=UTC) - timedelta(microseconds=1)
        return ctx.now - VISIBILITY_LAG

    def _guarded(self, score: Any, project: str, span: SpanToScore, scorer: str) -> Any:
        try:
            return score(project, span)
        except Exception as exc:  # one odd span must not stop the batch
            log.exception("scoring span %s/%s failed", span.trace_id, span.span_id)
            source = SOURCE_JUDGE if scorer == JUDGE_SCORER else SOURCE_OFFLINE
            return evaluation_row(project, span, scorer, source, error=f"{type(exc).__name__}: {exc}")

    def _offline_rows(self, project: str, spans: list[SpanToScore]) -> list[dict[str, Any]]:
        """One row per span, in order; the groundable spans are scored together in one worker batch."""
        found = {i: self._guarded(_row_or_arguments, project, span, OFFLINE_SCORER) for i, span in enumerate(spans)}
        pending = [i for i, value in found.items() if isinstance(value, tuple)]
        results = run_batch(SCORE_GROUNDEDNESS, [(found[i], {}) for i in pending])
        for i, result in zip(pending, results, strict=True):
            found[i] = _offline_row(project, spans[i], result)
        return [found[i] for i in range(len(spans))]

    def _judge_rows(self, project: str, spans: list[SpanToScore]) -> list[dict[str, Any]]:
        return [self._guarded(self._judge_row, project, span, JUDGE_SCORER) for span in spans]

    def _judge_row(self, project: str, span: SpanToScore) -> dict[str, Any]:
        question, contexts, answer = span_texts(span)
        if not contexts or not answer:
            return evaluation_row(project, span, JUDGE_SCORER, SOURCE_JUDGE, label=UNKNOWN, reason="not groundable")
        assert self.judge is not None
        verdict = judge_groundedness(self.judge, question, answer, contexts)
        return evaluation_row(project, span, JUDGE_SCORER, SOURCE_JUDGE, score=verdict.score, label=verdict.label,
                              reason=verdict.reason, hallucinated=None if verdict.error else _verdict(verdict.label),
                              error=verdict.error, cost=judge_cost(verdict.model, verdict.input_tokens,
                                                                   verdict.output_tokens),
                              input_tokens=verdict.input_tokens,
                              output_tokens=verdict.output_tokens)


def _row_or_arguments(project: str, span: SpanToScore) -> dict[str, Any] | tuple[str, list[str], str]:
    """The row of a span with nothing to check, or the (answer, contexts, question) to score it with."""
    question, contexts, answer = span_texts(span)
    if contexts and answer:
        return answer, contexts, question
    nothing = ("nothing to check the answer against (no retrieved documents, tool results, context block "
               "or system prompt with context)")
    return evaluation_row(project, span, OFFLINE_SCORER, SOURCE_OFFLINE, label=UNKNOWN,
                          reason=nothing if answer else "no answer text")


def _offline_row(project: str, span: SpanToScore, result: Groundedness | Failed) -> dict[str, Any]:
    if isinstance(result, Failed):
        log.error("scoring span %s/%s failed: %s", span.trace_id, span.span_id, result.error)
        return evaluation_row(project, span, OFFLINE_SCORER, SOURCE_OFFLINE, error=result.error)
    return evaluation_row(project, span, OFFLINE_SCORER, SOURCE_OFFLINE, score=result.score, label=result.label,
                          reason=result.reason, hallucinated=_verdict(result.label))


def span_texts(span: SpanToScore) -> tuple[str, list[str], str]:
    """(question, contexts, answer); contexts empty when nothing could ground the answer (only an
    instruction prompt, see `has_grounding`)."""
    inputs, documents = parse_messages(span.input_messages), [d for raw in span.documents for d in parse_messages(raw)]
    question, contexts = extract_context(inputs, documents)
    answer = answer_text(parse_messages(span.output_messages))
    return question, contexts if has_grounding(inputs, documents) else [], answer


def evaluation_row(project: str, span: SpanToScore, scorer: str, source: str, *, score: float | None = None,
                   label: str = "", reason: str = "", hallucinated: bool | None = None, error: str = "",
                   cost: Decimal | None = None, input_tokens: int = 0, output_tokens: int = 0) -> dict[str, Any]:
    return {
        "project_id": project, "trace_id": span.trace_id, "span_id": span.span_id,
        "evaluation_id": evaluation_key(f"{scorer}|{span.trace_id}|{span.span_id}"),
        "scorer": scorer, "name": "hallucination", "score": score, "label": label or ("error" if error else ""),
        "reason": reason[:4000], "hallucinated": hallucinated, "request_model": span.request_model,
        "span_time": span.start_time, "source": source, "cost": cost, "input_tokens": input_tokens,
        "output_tokens": output_tokens, "error": error[:2000],
    }


def _verdict(label: str) -> bool | None:
    return None if label == UNKNOWN else label == HALLUCINATED


def _parse_time(value: str | None) -> datetime:
    return datetime.fromisoformat(value) if value else _EPOCH
