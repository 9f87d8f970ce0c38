"""The LLM judge against a local stand-in for an OpenAI-compatible endpoint."""

from __future__ import annotations

import json

import pytest

from detectors.outbound import HttpResult, RetryPolicy
from detectors.scoring.judge import (
    ERROR,
    GROUNDED,
    HALLUCINATED,
    JudgeConfig,
    JudgeVerdict,
    judge_groundedness,
    parse_reply,
)
from tests.receiver import Reply

QUESTION = "How long does a refund take?"
ANSWER = "Refunds arrive within 24 hours by wire transfer."
CONTEXTS = ["Refunds go back to the original payment method within 5 to 10 business days.", "Other article."]
FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05, timeout=5, deadline=10)


def _completion(content: str, *, prompt_tokens: int = 412, completion_tokens: int = 37,
                model: str = "judge-mini-2025-01-01") -> dict:
    return {
        "id": "chatcmpl-1", "object": "chat.completion", "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    }


VERDICT = {"score": 0.1, "label": "hallucinated", "reason": "The context says 5 to 10 business days, not 24 hours."}


def _judge(receiver, *, api_key: str = "sk-test", policy: RetryPolicy = FAST) -> JudgeVerdict:
    config = JudgeConfig(url=f"{receiver.url}/v1", model="judge-mini", api_key=api_key, timeout=5)
    return judge_groundedness(config, QUESTION, ANSWER, CONTEXTS, policy=policy)


def test_request_is_an_openai_chat_completion(receiver):
    receiver.default = Reply(200, _completion(json.dumps(VERDICT)))
    _judge(receiver)
    (request,) = receiver.requests
    body = request.json()
    assert (request.method, request.path) == ("POST", "/v1/chat/completions")
    assert request.headers["Authorization"] == "Bearer sk-test"
    assert request.headers["Content-Type"] == "application/json"
    assert body["model"] == "judge-mini"
    assert body["temperature"] == 0
    assert body["response_format"] == {"type": "json_object"}
    system, user = body["messages"]
    assert system["role"] == "system" and '"label"' in system["content"] and "JSON" in system["content"]
    assert user["role"] == "user"
    assert all(text in user["content"] for text in (QUESTION, ANSWER, *CONTEXTS))


def test_no_api_key_sends_no_authorization(receiver):
    receiver.default = Reply(200, _completion(json.dumps(VERDICT)))
    _judge(receiver, api_key="")
    assert "Authorization" not in receiver.requests[0].headers


def test_good_reply_is_parsed_with_tokens(receiver):
    receiver.default = Reply(200, _completion(json.dumps(VERDICT)))
    assert _judge(receiver) == JudgeVerdict(0.1, HALLUCINATED, VERDICT["reason"], "judge-mini-2025-01-01", 412, 37, "")


def test_fenced_json_is_parsed(receiver):
    content = 'Here is my verdict:\n```json\n{"score": 0.95, "label": "Grounded", "reason": "All supported."}\n```'
    receiver.default = Reply(200, _completion(content))
    verdict = _judge(receiver)
    assert (verdict.score, verdict.label, verdict.reason, verdict.error) == (0.95, GROUNDED, "All supported.", "")


@pytest.mark.parametrize(("content", "problem"), [
    ("The answer looks fine to me.", "no JSON object"),
    ('{"score": 0.9, "label": "grounded"', "no JSON object"),
    ('{"score": 0.9, "label": grounded}', "malformed JSON"),
    ('{"label": "grounded", "reason": "ok"}', "score"),
    ('{"score": 1.7, "label": "grounded"}', "score"),
    ('{"score": 0.2, "label": "maybe"}', "label"),
    ('{"score": 0.2}', "label"),
    ("[0.2]", "no JSON object"),
])
def test_malformed_reply_is_an_error_verdict_with_tokens(receiver, content, problem):
    receiver.default = Reply(200, _completion(content))
    verdict = _judge(receiver)
    assert (verdict.score, verdict.label) == (None, ERROR)
    assert problem in verdict.error
    assert (verdict.input_tokens, verdict.output_tokens) == (412, 37)  # the failed judgement still cost money


@pytest.mark.parametrize("body", ["<html>Bad gateway</html>", json.dumps({"choices": []}), json.dumps([1, 2]),
                                  json.dumps({"choices": [{"message": {"content": None}}]})])
def test_reply_that_is_not_a_completion_is_an_error_verdict(receiver, body):
    receiver.default = Reply(200, body)
    verdict = _judge(receiver)
    assert (verdict.score, verdict.label, verdict.model) == (None, ERROR, "judge-mini")
    assert verdict.error


def test_server_error_is_retried_then_an_error_verdict(receiver):
    receiver.default = Reply(500, {"error": {"message": "boom"}})
    verdict = _judge(receiver)
    assert (verdict.score, verdict.label) == (None, ERROR)
    assert "HTTP 500" in verdict.error
    assert len(receiver.requests) == FAST.attempts  # a 500 is as passing as a 503 (issue #20)


def test_unavailable_then_ok_is_retried_and_parsed(receiver):
    receiver.script = [Reply(503, "overloaded", {"Retry-After": "0"})]
    receiver.default = Reply(200, _completion(json.dumps(VERDICT)))
    verdict = _judge(receiver)
    assert (verdict.label, verdict.score, verdict.error) == (HALLUCINATED, 0.1, "")
    assert len(receiver.requests) == 2
    assert receiver.requests[0].json() == receiver.requests[1].json()


def test_endpoint_without_json_mode_is_asked_again_without_it(receiver):
    receiver.script = [Reply(400, {"error": {"message": "Unknown parameter: response_format"}})]
    receiver.default = Reply(200, _completion(json.dumps(VERDICT)))
    assert _judge(receiver).label == HALLUCINATED
    first, second = (r.json() for r in receiver.requests)
    assert "response_format" in first and "response_format" not in second


def test_unreachable_endpoint_is_an_error_verdict():
    config = JudgeConfig(url="http://127.0.0.1:9/v1", model="judge-mini", timeout=1)
    verdict = judge_groundedness(config, QUESTION, ANSWER, CONTEXTS, policy=RetryPolicy(attempts=1, timeout=1))
    assert (verdict.label, verdict.score) == (ERROR, None)
    assert "ConnectionError" in verdict.error


def test_fake_post_sees_the_config_timeout():
    seen = {}

    def post(url, payload, *, headers, policy):
        seen.update(url=url, timeout=policy.timeout)
        return HttpResult(True, 200, 1, "", json.dumps(_completion(json.dumps(VERDICT))), 0.01)

    config = JudgeConfig(url="http://judge.example/v1/", model="m", timeout=7.5)
    verdict = judge_groundedness(config, QUESTION, ANSWER, CONTEXTS, post=post)
    assert seen == {"url": "http://judge.example/v1/chat/completions", "timeout": 7.5}
    assert verdict.label == HALLUCINATED


def test_parse_reply_accepts_a_numeric_string_score_and_missing_usage():
    body = json.dumps({"choices": [{"message": {"content": '{"score": "0.8", "label": "grounded"}'}}]})
    assert parse_reply(body, "m") == JudgeVerdict(0.8, GROUNDED, "", "m", 0, 0, "")
