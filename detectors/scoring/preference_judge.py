"""A pairwise LLM judge for shadow mode: which of two answers to the same request is better.

The machinery is the groundedness judge's (`judge.ask_judge`: strict JSON at temperature 0, lenient
parsing, retries, a value instead of an exception); only the instructions and the verdict differ.

Position bias: LLM judges prefer the answer shown first, by a margin that varies by judge model
(Zheng et al., "Judging LLM-as-a-Judge", 2023, measured it on GPT-4 and Claude). Were the primary
always answer A, that bias would read as a preference for the primary and make the candidate look
worse than it is, which is the wrong way to be wrong before a migration. So the candidate is shown
first in one half of the pairs and second in the other, by a hash of the shadow span's ids
(`candidate_shown_first`): the bias falls on both sides alike and cancels in the counts. The
choice is deterministic, so asking again about a pair asks the same question (reproducible, and a
judge's prompt cache can serve it). Asking twice, once in each order, would cancel the bias per
pair too, at twice the cost; the counts are what the report shows, so once is enough.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from detectors.outbound import RetryPolicy
from detectors.scoring.judge import JUDGE_RETRY_POLICY, JudgeConfig, JudgeReply, ask_judge

PRIMARY, CANDIDATE, TIE = "primary", "candidate", "tie"
MAX_ANSWER_CHARS = 8_000  # per answer: bounds the judge's input cost
MAX_CONTEXT_CHARS = 16_000
MAX_REASON_CHARS = 500
# Statuses that say the judge is unavailable (down, throttled, misconfigured), not that this pair
# is hard to judge: asking about the next pair would fail the same way.
UNAVAILABLE_STATUSES = frozenset({401, 403, 404, 408, 429})

PREFERENCE_PROMPT = (
    "You compare two answers an assistant could have given to the same request. You get the "
    "question, the context the assistant was given (if any) and two answers, A and B. Decide which "
    "answer serves the user better: first whether it is correct and supported by the context, then "
    "whether it answers what was asked, completely and clearly. Length, style and confidence alone "
    "decide nothing, and the order in which the answers are shown means nothing. If they are equally "
    "good or equally bad, say tie.\n"
    'Reply with one JSON object and nothing else: {"winner": "A", "B" or "tie", "reason": "<one '
    'sentence on what decided it>"}'
)
_WINNERS = {"a": "A", "b": "B", "tie": TIE, "equal": TIE, "both": TIE, "neither": TIE, "none": TIE}


@dataclass(frozen=True)
class PairCase:
    """What the judge compares: one request and the primary's and the candidate's answers to it."""

    question: str
    contexts: Sequence[str]
    primary_answer: str
    candidate_answer: str
    candidate_first: bool  # the candidate's answer is shown as A


@dataclass(frozen=True)
class Preference:
    label: str | None  # PRIMARY | CANDIDATE | TIE; None when the judge gave no usable verdict
    reason: str
    model: str
    input_tokens: int
    output_tokens: int
    error: str
    unavailable: bool  # the judge could not be asked (down, throttled, refused our key): not this pair's fault


Ask = Callable[..., JudgeReply]


def candidate_shown_first(trace_id: str, span_id: str) -> bool:
    """The order of a pair's answers: the same for a pair on every run, each order for half the pairs."""
    digest = hashlib.sha256(f"{trace_id}|{span_id}".encode()).digest()
    return digest[0] & 1 == 1


def judge_preference(config: JudgeConfig, case: PairCase, *, ask: Ask = ask_judge,
                     policy: RetryPolicy = JUDGE_RETRY_POLICY) -> Preference:
    """Ask the judge which answer is better, mapped back to primary or candidate; never raises."""
    reply = ask(config, PREFERENCE_PROMPT, case_prompt(case), policy=policy)
    if reply.verdict is None:
        return _failed(reply, reply.error, is_unavailable(reply.status))
    winner = parse_winner(reply.verdict.get("winner", reply.verdict.get("preference")))
    if winner is None:
        return _failed(reply, f"the judge's winner is not 'A', 'B' or 'tie': {reply.verdict.get('winner')!r}")
    return Preference(side_of(winner, case.candidate_first), _reason(reply.verdict.get("reason"), case),
                      reply.model, reply.input_tokens, reply.output_tokens, "", False)


def case_prompt(case: PairCase) -> str:
    """The request, then the two answers in the pair's order."""
    first, second = ((case.candidate_answer, case.primary_answer) if case.candidate_first
                     else (case.primary_answer, case.candidate_answer))
    return (f"Question:\n{case.question or '(not recorded)'}\n\nContext:\n{_contexts(case.contexts)}\n\n"
            f"Answer A:\n{_clip(first)}\n\nAnswer B:\n{_clip(second)}")


def parse_winner(value: Any) -> str | None:
    """"A", "B" or TIE from what judges write: "a", "Answer B", "answer_a", "Tie.", "equal"."""
    if not isinstance(value, str):
        return None
    text = value.strip().lower().rstrip(".!").replace("_", " ")
    text = text.removeprefix("answer ").removeprefix("response ").strip()
    return _WINNERS.get(text)


def side_of(winner: str, candidate_first: bool) -> str:
    """The side a winner ("A", "B" or TIE) stands for, given the order the answers were shown in."""
    if winner == TIE:
        return TIE
    return CANDIDATE if (winner == "A") == candidate_first else PRIMARY


def is_unavailable(status: int | None) -> bool:
    """No answer, a 5xx, a throttle or an auth failure: the judge, not the pair, is the problem."""
    return status is None or status >= 500 or status in UNAVAILABLE_STATUSES


def _reason(value: Any, case: PairCase) -> str:
    """The judge's reason, with the order it saw the answers in: it speaks of A and B, and which is
    which differs from pair to pair."""
    order = "A = candidate, B = primary" if case.candidate_first else "A = primary, B = candidate"
    reason = value.strip()[:MAX_REASON_CHARS] if isinstance(value, str) else ""
    return f"{reason} [{order}]" if reason else f"[{order}]"


def _contexts(contexts: Sequence[str]) -> str:
    blocks, budget = [], MAX_CONTEXT_CHARS
    for number, context in enumerate(contexts, start=1):
        if budget <= 0:
            break
        blocks.append(f"[{number}] {context[:budget]}")
        budget -= len(context)
    return "\n\n".join(blocks) or "(no context was given)"


def _clip(text: str) -> str:
    return text if len(text) <= MAX_ANSWER_CHARS else text[:MAX_ANSWER_CHARS] + " […]"


def _failed(reply: JudgeReply, error: str, unavailable: bool = False) -> Preference:
    return Preference(None, "", reply.model, reply.input_tokens, reply.output_tokens, error, unavailable)
