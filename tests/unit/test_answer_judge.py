"""The correctness and relevance judges parse a verdict or say why there is none; never raise."""

from __future__ import annotations

import json
from typing import Any

from detectors.outbound import HttpResult
from detectors.scoring.answer_judge import judge_correctness, judge_relevance
from detectors.scoring.judge import JudgeConfig

CONFIG = JudgeConfig("http://judge/v1", "judge-model")


def replying(content: str, status: int = 200) -> Any:
    def post(url: str, payload: Any, **_: Any) -> HttpResult:
        body = json.dumps({"model": "judge-model-1", "usage": {"prompt_tokens": 40, "completion_tokens": 9},
                           "choices": [{"message": {"content": content}}]})
        ok = 200 <= status < 300
        return HttpResult(ok, status, 1, "" if ok else f"HTTP {status}", body, 0.1)
    return post


def ask_with(post: Any) -> Any:
    from detectors.scoring.judge import ask_judge

    return lambda config, system, case, policy: ask_judge(config, system, case, post=post, policy=policy)


def test_a_correct_verdict_in_a_fenced_reply() -> None:
    fenced = '```json {"score": "0.8", "label": "Correct", "reason": "same"} ```'
    verdict = judge_correctness(CONFIG, "q", "two weeks", "14 days", ask=ask_with(replying(fenced)))
    assert (verdict.score, verdict.passed, verdict.reason, verdict.model) == (0.8, True, "same", "judge-model-1")
    assert (verdict.input_tokens, verdict.output_tokens, verdict.error) == (40, 9, "")


def test_a_wrong_label_and_a_failed_call_are_errors_not_verdicts() -> None:
    wrong = judge_relevance(CONFIG, "q", "a", ask=ask_with(replying('{"score": 1, "label": "correct"}')))
    assert wrong.passed is None and wrong.error.startswith("the judge's label is not 'relevant' or 'irrelevant'")
    down = judge_relevance(CONFIG, "q", "a", ask=ask_with(replying("", status=503)))
    assert (down.score, down.passed, down.error) == (None, None, "HTTP 503")
