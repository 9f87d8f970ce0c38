"""The shadow pairs' preference judge: the prompt it sends, the verdicts it parses, and the order of the
two answers mapped back to primary and candidate; never raises."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from detectors.outbound import HttpResult, RetryPolicy
from detectors.scoring.judge import JudgeConfig, ask_judge
from detectors.scoring.preference_judge import (
    CANDIDATE,
    PREFERENCE_PROMPT,
    PRIMARY,
    TIE,
    PairCase,
    candidate_shown_first,
    case_prompt,
    judge_preference,
    parse_winner,
)
from detectors.shadow_judge import Failures, pair_case
from schemas.clickhouse.shadow_judging import PairSpans, PairToJudge
from tests.memory_state import MemoryState

CONFIG = JudgeConfig("http://judge/v1", "judge-model")
FAST = RetryPolicy(attempts=1, base_delay=0.0, timeout=1.0, deadline=1.0)
PRIMARY_ANSWER, CANDIDATE_ANSWER = "Paris is the capital of France.", "Berlin, I would say."


def case(candidate_first: bool) -> PairCase:
    return PairCase("What is the capital of France?", ["Paris is the capital of France."], PRIMARY_ANSWER,
                    CANDIDATE_ANSWER, candidate_first)


class Endpoint:
    """A `post` that answers with `content` (or fails with `status`) and keeps what it was sent."""

    def __init__(self, content: str = "", status: int | None = 200) -> None:
        self.content, self.status, self.sent = content, status, []

    def __call__(self, url: str, payload: Any, **_: Any) -> HttpResult:
        self.sent.append(payload)
        if self.status is None:
            return HttpResult(False, None, 1, "ConnectionError: refused", "", 0.1)
        body = json.dumps({"model": "judge-model-7", "usage": {"prompt_tokens": 300, "completion_tokens": 20},
                           "choices": [{"message": {"content": self.content}}]})
        ok = self.status == 200
        return HttpResult(ok, self.status, 1, "" if ok else f"HTTP {self.status}", body, 0.1)

    def ask(self, config: JudgeConfig, system: str, text: str, policy: RetryPolicy) -> Any:
        return ask_judge(config, system, text, post=self, policy=policy)


def judged(content: str, candidate_first: bool) -> Any:
    endpoint = Endpoint(content)
    return judge_preference(CONFIG, case(candidate_first), ask=endpoint.ask, policy=FAST)


def test_the_request_shows_the_question_context_and_both_answers_in_the_pairs_order() -> None:
    endpoint = Endpoint('{"winner": "A", "reason": "correct"}')
    judge_preference(CONFIG, case(True), ask=endpoint.ask, policy=FAST)
    (sent,) = endpoint.sent
    assert (sent["model"], sent["temperature"], sent["response_format"]) == ("judge-model", 0, {"type": "json_object"})
    system, user = sent["messages"]
    assert system == {"role": "system", "content": PREFERENCE_PROMPT}
    text = user["content"]
    assert text.index("What is the capital") < text.index("Context:\n[1] Paris") < text.index("Answer A:")
    assert text.index(f"Answer A:\n{CANDIDATE_ANSWER}") < text.index(f"Answer B:\n{PRIMARY_ANSWER}")
    assert case_prompt(case(False)).index(f"Answer A:\n{PRIMARY_ANSWER}") < case_prompt(case(False)).index(
        f"Answer B:\n{CANDIDATE_ANSWER}")


@pytest.mark.parametrize(("winner", "candidate_first", "side"), [
    ("A", True, CANDIDATE), ("A", False, PRIMARY), ("B", True, PRIMARY), ("B", False, CANDIDATE),
    ("tie", True, TIE), ("tie", False, TIE),
])
def test_the_winner_is_mapped_back_through_the_order_it_was_shown_in(winner: str, candidate_first: bool,
                                                                    side: str) -> None:
    preference = judged(json.dumps({"winner": winner, "reason": "A is right."}), candidate_first)
    order = "A = candidate, B = primary" if candidate_first else "A = primary, B = candidate"
    assert (preference.label, preference.reason, preference.error) == (side, f"A is right. [{order}]", "")
    assert (preference.model, preference.input_tokens, preference.output_tokens) == ("judge-model-7", 300, 20)


@pytest.mark.parametrize(("written", "winner"), [
    ("A", "A"), ("b", "B"), ("Answer B", "B"), ("answer_a", "A"), ("Response A.", "A"), ("Tie.", TIE),
    ("equal", TIE), ("neither", TIE), ("C", None), ("", None), (1, None), (None, None),
])
def test_winners_are_read_leniently(written: Any, winner: str | None) -> None:
    assert parse_winner(written) == winner


def test_a_fenced_reply_with_prose_is_a_verdict() -> None:
    content = 'Comparing both:\n```json\n{"winner": "Answer B", "reason": "B cites the context"}\n```'
    assert judged(content, candidate_first=False).label == CANDIDATE


def test_an_unusable_reply_is_this_pairs_failure_with_its_tokens() -> None:
    preference = judged('{"winner": "both are fine, really", "reason": "x"}', candidate_first=True)
    assert preference.label is None and not preference.unavailable
    assert preference.error.startswith("the judge's winner is not 'A', 'B' or 'tie'")
    assert (preference.input_tokens, preference.output_tokens) == (300, 20)
    prose = judged("I prefer the first one.", candidate_first=True)
    assert prose.label is None and not prose.unavailable and "no JSON object" in prose.error


@pytest.mark.parametrize(("status", "unavailable"), [(None, True), (503, True), (429, True), (401, True),
                                                     (400, False), (422, False)])
def test_an_unreachable_judge_is_told_from_a_pair_it_cannot_judge(status: int | None, unavailable: bool) -> None:
    endpoint = Endpoint("", status=status)
    preference = judge_preference(CONFIG, case(True), ask=endpoint.ask, policy=FAST)
    assert preference.label is None and preference.unavailable is unavailable and preference.error


def test_the_order_is_fixed_per_pair_and_each_order_shows_for_about_half() -> None:
    ids = [(f"{t:032x}", f"{s:016x}") for t in range(40) for s in range(1, 11)]
    firsts = [candidate_shown_first(t, s) for t, s in ids]
    assert firsts == [candidate_shown_first(t, s) for t, s in ids]
    assert 0.4 < sum(firsts) / len(firsts) < 0.6


NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
PAIR = PairToJudge(f"{7:032x}", "00000000000000c1", "00000000000000b1", "gpt-4o", "gpt-4o-mini", NOW)


def messages(*pairs: tuple[str, str]) -> str:
    return json.dumps([{"role": role, "content": content} for role, content in pairs])


def test_a_pair_case_reads_the_primarys_request_and_both_answers() -> None:
    spans = PairSpans({
        (PAIR.trace_id, PAIR.primary_id): {"input": messages(("system", "Context: Paris is the capital."),
                                                             ("user", "Capital of France?")),
                                           "output": messages(("assistant", PRIMARY_ANSWER))},
        (PAIR.trace_id, PAIR.candidate_id): {"input": "", "output": messages(("assistant", CANDIDATE_ANSWER))},
    }, {PAIR.trace_id: [json.dumps([{"content": "Paris has 2.1M people."}])]})
    found = pair_case(PAIR, spans)
    assert found is not None
    assert (found.question, found.primary_answer, found.candidate_answer) == (
        "Capital of France?", PRIMARY_ANSWER, CANDIDATE_ANSWER)
    assert set(found.contexts) == {"Paris has 2.1M people.", "Context: Paris is the capital."}
    assert found.candidate_first == candidate_shown_first(PAIR.trace_id, PAIR.candidate_id)
    no_answer = PairSpans({**spans.messages, (PAIR.trace_id, PAIR.candidate_id): {"input": "", "output": "[]"}})
    assert pair_case(PAIR, no_answer) is None and pair_case(PAIR, PairSpans()) is None




def test_failures_count_runs_per_pair_and_forget_pairs_past_the_lookback() -> None:
    state = MemoryState()
    failures = Failures.load(state, "default", NOW - timedelta(days=7))  # type: ignore[arg-type]
    assert failures.count(PAIR) == 1
    failures.save(state)  # type: ignore[arg-type]
    again = Failures.load(state, "default", NOW - timedelta(days=7))  # type: ignore[arg-type]
    assert again.count(PAIR) == 2
    again.save(state)  # type: ignore[arg-type]
    assert Failures.load(state, "default", NOW + timedelta(seconds=1)).counts == {}  # type: ignore[arg-type]
    again.clear(PAIR)
    assert again.counts == {}
    state.values["shadow_judge.default.failures"] = "{not json"
    assert Failures.load(state, "default", NOW).counts == {}  # type: ignore[arg-type]
