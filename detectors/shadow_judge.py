"""The shadow-judge detector: asks the LLM judge which answer of a shadow pair serves the user better.

It runs only when a judge is configured (LLMPULSE_JUDGE_URL). Each run, per project, it takes up
to `per_run` paired shadow calls of the last `lookback` that carry no `shadow_preference` yet, from
anyone (a person's or the app's verdict outranks the judge's, so asking would be money for
nothing), sampled by the project's `eval_sample_rate` as the hallucination sampler samples, newest
first. For each it shows the judge the primary's request (question and context), and both answers
in an order fixed per pair (`preference_judge`: position bias), and files one evaluation row on the
shadow span: name `shadow_preference`, source `judge`, label primary|candidate|tie, the reason,
the judge's model (as its annotator: who gave the verdict), its tokens and their cost.

Failures never stop the run or another detector:
- a failed question (no answer, an error status, a reply without a usable verdict) counts one
  attempt against its pair (detector state) and writes nothing, so the next run asks again; after
  `attempts` the pair gets a row labelled `error` with the reason, as the hallucination detector
  files its scoring errors, so it is not asked forever;
- a judge that cannot be asked (no answer, 5xx, 429, a refused key) also ends this run's judging at
  once, so a dead endpoint costs one question's retries, not `per_run` of them; the other pairs
  wait for the next run. The pair asked is charged even so: a prompt that times out or crashes the
  judge looks like an outage, and, never charged, would stop every run before the pairs behind it;
- a pair without both answers (content capture off, a failed call) gets a row labelled `skipped`,
  without asking the judge.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from detectors.base import DetectorContext, RunResult
from detectors.scoring.judge import JudgeConfig
from detectors.scoring.judge_price import judge_cost
from detectors.scoring.preference_judge import PairCase, Preference, candidate_shown_first, judge_preference
from detectors.scoring.texts import answer_text, extract_context, parse_messages
from schemas.clickhouse.evaluations import EVALUATION_COLUMNS, evaluation_key, insert_evaluations
from schemas.clickhouse.quality import SOURCE_JUDGE
from schemas.clickhouse.shadow import PREFERENCE_NAME
from schemas.clickhouse.shadow_judging import PairSpans, PairToJudge, pair_spans, pairs_to_judge
from schemas.metadata.runs import StateStore

log = logging.getLogger(__name__)

SCORER = "shadow_judge"
SKIPPED, ERROR = "skipped", "error"
ROW_COLUMNS = (*EVALUATION_COLUMNS, "annotator")


@dataclass(frozen=True)
class ShadowJudgeSettings:
    per_run: int = 50  # pairs asked about per project and run: bounds what a run spends on the judge
    lookback: timedelta = timedelta(days=7)  # the shadow report's default window; older pairs are left
    attempts: int = 3  # runs a pair may fail in before it is given up with an error row


@dataclass
class Tally:
    """What a run did, for its record."""

    picked: int = 0
    judged: int = 0
    skipped: int = 0
    failed: int = 0
    given_up: int = 0
    unavailable: str = ""  # why the judge could not be asked, when it could not

    @property
    def written(self) -> int:
        return self.judged + self.skipped + self.given_up

    def message(self) -> str:
        text = (f"{self.judged} pair(s) judged, {self.skipped} skipped (an answer missing), {self.failed} "
                f"failed (asked again next run), {self.given_up} given up")
        return text + (f"; the judge is unavailable ({self.unavailable}): the other pairs wait for the next run"
                       if self.unavailable else "")


class ShadowJudgeDetector:
    name = "shadow_judge"

    def __init__(self, interval: float, judge: JudgeConfig | None,
                 settings: ShadowJudgeSettings = ShadowJudgeSettings()) -> None:
        self.interval, self.judge, self.settings = interval, judge, settings

    def run(self, ctx: DetectorContext) -> RunResult:
        if self.judge is None:
            return RunResult(message="no judge configured (LLMPULSE_JUDGE_URL): no pair judged")
        tally = Tally()
        for project in ctx.metadata.list_projects():
            if tally.unavailable:
                break
            self._judge_project(ctx, project.name, project.eval_sample_rate, tally)
        return RunResult(rows_read=tally.picked, rows_written=tally.written, message=tally.message())

    def _judge_project(self, ctx: DetectorContext, project: str, rate: float, tally: Tally) -> None:
        oldest = ctx.now - self.settings.lookback
        pairs = pairs_to_judge(ctx.store, project, rate, oldest, self.settings.per_run)
        if not pairs:
            return
        tally.picked += len(pairs)
        failures = Failures.load(ctx.state, project, oldest)
        rows = self._rows(project, pairs, pair_spans(ctx.store, project, pairs), failures, tally)
        insert_evaluations(ctx.store, rows, ROW_COLUMNS)
        failures.save(ctx.state)

    def _rows(self, project: str, pairs: list[PairToJudge], spans: PairSpans, failures: Failures,
              tally: Tally) -> list[dict[str, Any]]:
        rows = []
        for pair in pairs:
            case = pair_case(pair, spans)
            if case is None:
                tally.skipped += 1
                rows.append(preference_row(project, pair, SKIPPED, reason="the primary's or the candidate's "
                                                                         "answer is not stored"))
                continue
            preference = self._ask(case, pair)
            row = self._outcome_row(project, pair, preference, failures, tally)
            rows.extend([row] if row else [])
            if preference.unavailable:
                log.warning("shadow judge unavailable: %s", preference.error)
                tally.unavailable = preference.error
                break
        return rows

    def _ask(self, case: PairCase, pair: PairToJudge) -> Preference:
        assert self.judge is not None
        try:
            return judge_preference(self.judge, case)
        except Exception as exc:  # one odd pair must not stop the batch
            log.exception("judging shadow pair %s/%s failed", pair.trace_id, pair.candidate_id)
            return Preference(None, "", self.judge.model, 0, 0, f"{type(exc).__name__}: {exc}", False)

    def _outcome_row(self, project: str, pair: PairToJudge, preference: Preference, failures: Failures,
                     tally: Tally) -> dict[str, Any] | None:
        """The verdict's row; none for a failure the pair may still recover from; the error row of
        one that failed `attempts` times."""
        if preference.label is not None:
            tally.judged += 1
            failures.clear(pair)
            return preference_row(project, pair, preference.label, preference.reason, preference)
        if failures.count(pair) < self.settings.attempts:
            tally.failed += 1
            return None
        tally.given_up += 1
        failures.clear(pair)
        error = f"no verdict in {self.settings.attempts} runs; the last: {preference.error}"
        return preference_row(project, pair, ERROR, preference=preference, error=error)


def pair_case(pair: PairToJudge, spans: PairSpans) -> PairCase | None:
    """What the judge is shown about a pair; None when either answer is missing."""
    primary = spans.messages.get((pair.trace_id, pair.primary_id), {})
    candidate = spans.messages.get((pair.trace_id, pair.candidate_id), {})
    primary_answer = answer_text(parse_messages(primary.get("output", "")))
    candidate_answer = answer_text(parse_messages(candidate.get("output", "")))
    if not primary_answer.strip() or not candidate_answer.strip():
        return None
    documents = [d for raw in spans.documents.get(pair.trace_id, []) for d in parse_messages(raw)]
    question, contexts = extract_context(parse_messages(primary.get("input", "")), documents)
    return PairCase(question, contexts, primary_answer, candidate_answer,
                    candidate_shown_first(pair.trace_id, pair.candidate_id))


def preference_row(project: str, pair: PairToJudge, label: str, reason: str = "",
                   preference: Preference | None = None, error: str = "") -> dict[str, Any]:
    """The evaluation row of a pair, filed on its shadow span; one per pair (a later row replaces it)."""
    usage = (preference.model, preference.input_tokens, preference.output_tokens) if preference else ("", 0, 0)
    return {
        "project_id": project, "trace_id": pair.trace_id, "span_id": pair.candidate_id,
        "evaluation_id": evaluation_key(f"{SCORER}|{pair.trace_id}|{pair.candidate_id}"),
        "scorer": SCORER, "name": PREFERENCE_NAME, "score": None, "label": label,
        "reason": reason[:4000], "hallucinated": None, "request_model": pair.candidate_model,
        "span_time": pair.start_time, "source": SOURCE_JUDGE, "cost": judge_cost(*usage) if preference else None,
        "input_tokens": usage[1], "output_tokens": usage[2], "error": error[:2000], "annotator": usage[0],
    }


@dataclass
class Failures:
    """Runs in which each pair got no verdict, kept in detector state per project until the pair is
    judged or given up; entries older than the lookback are dropped with their pairs."""

    key: str
    counts: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, state: StateStore, project: str, oldest: datetime) -> Failures:
        key = f"{SCORER}.{project}.failures"
        try:
            stored = json.loads(state.get(key) or "{}")
        except ValueError:
            stored = {}
        kept = {k: v for k, v in stored.items() if isinstance(v, dict) and _after(v.get("start"), oldest)}
        return cls(key, kept)

    def count(self, pair: PairToJudge) -> int:
        """One more failed run of `pair`; the runs it failed in so far."""
        entry = self.counts.setdefault(_pair_key(pair), {"runs": 0, "start": pair.start_time.isoformat()})
        entry["runs"] = int(entry.get("runs", 0)) + 1
        return entry["runs"]

    def clear(self, pair: PairToJudge) -> None:
        self.counts.pop(_pair_key(pair), None)

    def save(self, state: StateStore) -> None:
        state.set(self.key, json.dumps(self.counts, sort_keys=True))


def _pair_key(pair: PairToJudge) -> str:
    return f"{pair.trace_id}/{pair.candidate_id}"


def _after(value: Any, oldest: datetime) -> bool:
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return False
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)) >= oldest
