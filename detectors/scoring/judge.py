"""Optional LLM-as-judge groundedness scorer against any OpenAI-compatible chat completions endpoint.

The offline scorer is lexical; a judge model catches what it cannot (a swapped antonym, a wrong
inference from true facts) at a price. The judge is asked for strict JSON at temperature 0, its
reply is parsed leniently (code fences, prose around the object), and every failure becomes a
verdict with `error` set, never an exception, so one bad reply cannot stop a detector run. The
judge's own token usage is returned so the caller can price it like any other LLM call.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from detectors.outbound import HttpResult, RetryPolicy, post_json

GROUNDED, HALLUCINATED, ERROR = "grounded", "hallucinated", "error"
LABELS = frozenset({GROUNDED, HALLUCINATED})
# Judge calls are slow and cost money: fewer attempts than a notifier, and a deadline per verdict.
JUDGE_RETRY_POLICY = RetryPolicy(attempts=3, base_delay=1.0, max_delay=20.0, timeout=30.0, deadline=90.0)
MAX_CONTEXT_CHARS = 24_000  # bounds the judge's input cost; retrieved context beyond this is cut
MAX_REASON_CHARS = 500

JUDGE_SYSTEM_PROMPT = (
    "You are a strict fact-checker for a retrieval-augmented assistant. You get a question, the "
    "context the assistant was given, and its answer. Decide whether every factual claim in the "
    "answer is supported by the context. Claims that are not in the context, or that contradict it "
    "(a different number, duration, name, condition or policy), are hallucinations even if they "
    "might be true elsewhere. Greetings, offers to help, and saying that the context does not "
    "contain the answer are not hallucinations.\n"
    'Reply with one JSON object and nothing else: {"score": <number from 0 to 1, 1 = fully '
    'supported>, "label": "grounded" or "hallucinated", "reason": "<one sentence naming the '
    'unsupported claim, or why the answer is supported>"}'
)

Post = Callable[..., HttpResult]


@dataclass(frozen=True)
class JudgeConfig:
    url: str  # base URL of an OpenAI-compatible API, e.g. http://host/v1
    model: str
    api_key: str = ""
    timeout: float = 30.0  # seconds per attempt


@dataclass(frozen=True)
class JudgeVerdict:
    score: float | None  # 0..1, 1 = fully supported; None when the judge gave no usable answer
    label: str  # GROUNDED | HALLUCINATED | ERROR
    reason: str
    model: str  # the model that answered (as the endpoint reports it)
    input_tokens: int
    output_tokens: int
    error: str  # why there is no verdict; "" when there is one


class _BadReply(ValueError):
    """The judge answered, but not with a usable verdict."""


@dataclass(frozen=True)
class JudgeReply:
    """The JSON object a judge answered with (None and `error` when there is none), and its usage."""

    verdict: dict[str, Any] | None
    model: str
    input_tokens: int
    output_tokens: int
    error: str
    status: int | None = None  # the endpoint's HTTP status; None when it never answered


def ask_judge(config: JudgeConfig, system_prompt: str, case: str, *, post: Post = post_json,
              policy: RetryPolicy = JUDGE_RETRY_POLICY) -> JudgeReply:
    """One strict-JSON question to the judge (other judges than groundedness use it: the
    experiments' correctness and relevance); never raises."""
    payload = {"model": config.model, "temperature": 0, "response_format": {"type": "json_object"},
               "messages": [{"role": "system", "content": system_prompt}, {"role": "user", "content": case}]}
    result = _send(config, payload, post, replace(policy, timeout=config.timeout))
    status = result.status
    if not result.ok:
        return JudgeReply(None, config.model, 0, 0, result.error or f"HTTP {status}", status)
    try:
        reply = json.loads(result.body)
    except ValueError:
        return JudgeReply(None, config.model, 0, 0, f"the judge's reply is not JSON: {result.body[:200]!r}", status)
    if not isinstance(reply, dict):
        return JudgeReply(None, config.model, 0, 0, "the judge's reply is not a JSON object", status)
    model = reply.get("model") if isinstance(reply.get("model"), str) else config.model
    input_tokens, output_tokens = _usage(reply.get("usage"))
    try:
        verdict = _extract_object(_message_content(reply))
    except _BadReply as exc:
        return JudgeReply(None, model, input_tokens, output_tokens, str(exc), status)
    return JudgeReply(verdict, model, input_tokens, output_tokens, "", status)


def judge_score(value: Any) -> float | None:
    """A verdict's score as a number from 0 to 1, or None when it is not one."""
    if isinstance(value, str):
        value = _as_number(value)
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= 1:
        return None
    return float(value)


def judge_groundedness(config: JudgeConfig, question: str, answer: str, contexts: Sequence[str], *,
                       post: Post = post_json, policy: RetryPolicy = JUDGE_RETRY_POLICY) -> JudgeVerdict:
    """Ask the judge model whether `answer` is supported by `contexts`; never raises."""
    payload = build_request(config.model, question, answer, contexts)
    result = _send(config, payload, post, replace(policy, timeout=config.timeout))
    if not result.ok:
        return _failed(config.model, result.error or f"HTTP {result.status}")
    return parse_reply(result.body, config.model)


def build_request(model: str, question: str, answer: str, contexts: Sequence[str]) -> dict[str, Any]:
    """The chat completions body: the judge's instructions, then the case to judge."""
    return {
        "model": model,
        "temperature": 0,
        "response_format": {"type": "json_object"},
        "messages": [
            {"role": "system", "content": JUDGE_SYSTEM_PROMPT},
            {"role": "user", "content": _case_prompt(question, answer, contexts)},
        ],
    }


def parse_reply(body: str, model: str) -> JudgeVerdict:
    """A verdict from a chat completions response body; a reply that says nothing usable is an error."""
    try:
        reply = json.loads(body)
    except ValueError:
        return _failed(model, f"the judge's reply is not JSON: {body[:200]!r}")
    if not isinstance(reply, dict):
        return _failed(model, "the judge's reply is not a JSON object")
    model = reply.get("model") if isinstance(reply.get("model"), str) else model
    input_tokens, output_tokens = _usage(reply.get("usage"))
    try:
        score, label, reason = _verdict_fields(_extract_object(_message_content(reply)))
    except _BadReply as exc:
        return JudgeVerdict(None, ERROR, "", model, input_tokens, output_tokens, str(exc))
    return JudgeVerdict(score, label, reason, model, input_tokens, output_tokens, "")


def _send(config: JudgeConfig, payload: dict[str, Any], post: Post, policy: RetryPolicy) -> HttpResult:
    """POST the request; an endpoint that rejects `response_format` gets it once more without."""
    url = f"{config.url.rstrip('/')}/chat/completions"
    headers = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}
    result = post(url, payload, headers=headers, policy=policy)
    if result.status == 400 and "response_format" in result.body:
        payload = {key: value for key, value in payload.items() if key != "response_format"}
        result = post(url, payload, headers=headers, policy=policy)
    return result


def _case_prompt(question: str, answer: str, contexts: Sequence[str]) -> str:
    blocks, budget = [], MAX_CONTEXT_CHARS
    for number, context in enumerate(contexts, start=1):
        if budget <= 0:
            break
        blocks.append(f"[{number}] {context[:budget]}")
        budget -= len(context)
    context_text = "\n\n".join(blocks) or "(no context was given)"
    return f"Question:\n{question or '(not recorded)'}\n\nContext:\n{context_text}\n\nAnswer:\n{answer}"


def _usage(usage: Any) -> tuple[int, int]:
    usage = usage if isinstance(usage, dict) else {}
    return _count(usage.get("prompt_tokens")), _count(usage.get("completion_tokens"))


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _message_content(reply: dict[str, Any]) -> str:
    choices = reply.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise _BadReply("the judge's reply has no choices")
    message = choices[0].get("message")
    content = message.get("content") if isinstance(message, dict) else None
    if not isinstance(content, str) or not content.strip():
        raise _BadReply("the judge's reply has no message content")
    return content


_FENCE = re.compile(r"```(?:json)?\s*(.*?)\s*```", re.DOTALL | re.IGNORECASE)


def _extract_object(content: str) -> dict[str, Any]:
    """The JSON object in a reply, whether bare, fenced in ```json or surrounded by prose."""
    fenced = _FENCE.search(content)
    text = fenced.group(1) if fenced else content
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        raise _BadReply(f"no JSON object in the judge's reply: {content[:200]!r}")
    try:
        found = json.loads(text[start: end + 1])
    except ValueError as exc:
        raise _BadReply(f"malformed JSON in the judge's reply ({exc}): {content[:200]!r}") from None
    if not isinstance(found, dict):
        raise _BadReply("the judge's verdict is not a JSON object")
    return found


def _verdict_fields(verdict: dict[str, Any]) -> tuple[float, str, str]:
    score, label = verdict.get("score"), verdict.get("label")
    if isinstance(score, str):
        score = _as_number(score)
    if not isinstance(score, int | float) or isinstance(score, bool) or not 0 <= score <= 1:
        raise _BadReply(f"the judge's score is not a number from 0 to 1: {verdict.get('score')!r}")
    label = label.strip().lower() if isinstance(label, str) else label
    if label not in LABELS:
        raise _BadReply(f"the judge's label is not 'grounded' or 'hallucinated': {verdict.get('label')!r}")
    reason = verdict.get("reason")
    return float(score), label, (reason if isinstance(reason, str) else "")[:MAX_REASON_CHARS]


def _as_number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _failed(model: str, error: str) -> JudgeVerdict:
    return JudgeVerdict(None, ERROR, "", model, 0, 0, error)
