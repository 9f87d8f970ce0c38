"""LLM-as-judge scorers of an experiment's answers: correctness against the expected answer, and
relevance to the question.

Golden sets hold short expected answers ("14 days") while models answer in sentences, and a right
answer may be worded otherwise ("two weeks"): string matching misses that, a judge does not. The
machinery is the groundedness judge's (`judge.ask_judge`: strict JSON at temperature 0, lenient
parsing, retries, a verdict value instead of an exception); only the instructions and the labels
differ.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from detectors.outbound import RetryPolicy
from detectors.scoring.judge import JUDGE_RETRY_POLICY, JudgeConfig, JudgeReply, ask_judge, judge_score

MAX_TEXT_CHARS = 12_000  # per text in the case: bounds the judge's input cost
MAX_REASON_CHARS = 500

CORRECTNESS_PROMPT = (
    "You grade answers against a reference. You get a question, the reference (expected) answer and "
    "an answer to grade. The answer is correct when it states what the reference states, in any "
    "wording or length; extra detail that does not contradict the reference is fine. It is incorrect "
    "when it contradicts the reference, misses its substance, or refuses.\n"
    'Reply with one JSON object and nothing else: {"score": <number from 0 to 1, 1 = fully correct>, '
    '"label": "correct" or "incorrect", "reason": "<one sentence>"}'
)
RELEVANCE_PROMPT = (
    "You judge whether an answer addresses the question it was given. Relevant: it responds to what "
    "was asked (a correct refusal or a request for a missing detail counts). Irrelevant: it answers "
    "another question, wanders off, or is empty. Do not judge whether it is true.\n"
    'Reply with one JSON object and nothing else: {"score": <number from 0 to 1, 1 = fully relevant>, '
    '"label": "relevant" or "irrelevant", "reason": "<one sentence>"}'
)
CORRECTNESS_LABELS = ("correct", "incorrect")
RELEVANCE_LABELS = ("relevant", "irrelevant")


@dataclass(frozen=True)
class AnswerVerdict:
    criterion: str  # "correctness" or "relevance"
    score: float | None  # None: the judge gave no usable verdict (see error)
    passed: bool | None
    reason: str
    model: str
    input_tokens: int
    output_tokens: int
    error: str


Ask = Callable[..., JudgeReply]


def judge_correctness(config: JudgeConfig, question: str, answer: str, expected: str, *,
                      ask: Ask = ask_judge, policy: RetryPolicy = JUDGE_RETRY_POLICY) -> AnswerVerdict:
    case = f"Question:\n{_clip(question)}\n\nReference answer:\n{_clip(expected)}\n\nAnswer to grade:\n{_clip(answer)}"
    return _verdict("correctness", ask(config, CORRECTNESS_PROMPT, case, policy=policy), CORRECTNESS_LABELS)


def judge_relevance(config: JudgeConfig, question: str, answer: str, *,
                    ask: Ask = ask_judge, policy: RetryPolicy = JUDGE_RETRY_POLICY) -> AnswerVerdict:
    case = f"Question:\n{_clip(question)}\n\nAnswer:\n{_clip(answer)}"
    return _verdict("relevance", ask(config, RELEVANCE_PROMPT, case, policy=policy), RELEVANCE_LABELS)


def _verdict(criterion: str, reply: JudgeReply, labels: tuple[str, str]) -> AnswerVerdict:
    def failed(error: str) -> AnswerVerdict:
        return AnswerVerdict(criterion, None, None, "", reply.model, reply.input_tokens, reply.output_tokens, error)

    if reply.verdict is None:
        return failed(reply.error)
    score, label = judge_score(reply.verdict.get("score")), _label(reply.verdict.get("label"))
    if score is None:
        return failed(f"the judge's score is not a number from 0 to 1: {reply.verdict.get('score')!r}")
    if label not in labels:
        return failed(f"the judge's label is not {labels[0]!r} or {labels[1]!r}: {reply.verdict.get('label')!r}")
    reason = reply.verdict.get("reason")
    return AnswerVerdict(criterion, score, label == labels[0], (reason if isinstance(reason, str) else "")
                         [:MAX_REASON_CHARS], reply.model, reply.input_tokens, reply.output_tokens, "")


def _label(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def _clip(text: str) -> str:
    return text if len(text) <= MAX_TEXT_CHARS else text[:MAX_TEXT_CHARS] + " […]"
