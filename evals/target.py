"""What an experiment calls, and one call to it: any OpenAI-compatible chat completions endpoint.

A target is data (URL, model, prompt, sampling settings) checked once when it is made, so an API
can refuse a bad one with a 400 before anything runs. A call never raises: a dead endpoint, a
timeout, a throttle that outlasts the retries, or a body that is not a chat completion all come
back as a `ChatReply` whose `error` says what went wrong, because one bad item must not stop an
experiment. Retries (429, 5xx, timeouts, with backoff and Retry-After) are `detectors.outbound`'s,
bounded by a deadline, so no call can hang a run.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import SplitResult, urlsplit

import requests

from detectors.outbound import HttpResult, RetryPolicy, post_json

# An experiment's calls are what is measured: a few attempts, and a deadline per item.
TARGET_RETRY_POLICY = RetryPolicy(attempts=4, base_delay=0.5, max_delay=20.0, timeout=60.0, deadline=180.0)
MAX_REPLY_CHARS = 4 * 1024 * 1024  # an answer longer than this is cut, and so fails to parse as JSON
_BODY_EXCERPT = 200
_VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\}")
INPUT_VARIABLE = "input"

# error_type values (OTel `error.type`): an HTTP status as text, or one of these.
TIMEOUT, CONNECTION, INVALID_REPLY, TEMPLATE, REQUEST = "timeout", "connection_error", "invalid_response", \
    "template_error", "request_error"


class TemplateError(ValueError):
    """An item's input cannot be rendered: a template variable the item's metadata lacks."""


@dataclass(frozen=True)
class Target:
    """The model under test, and how each item is put to it."""

    endpoint: str  # base URL of any OpenAI-compatible API, e.g. http://127.0.0.1:9000/v1
    model: str
    api_key: str | None = None
    system_prompt: str | None = None
    prompt_template: str | None = None  # e.g. "Answer briefly: {{input}}"; {{name}} filled from item metadata
    temperature: float | None = None
    max_tokens: int | None = None
    timeout_s: float = 60.0  # per attempt

    def __post_init__(self) -> None:
        check_target(self)

    def __repr__(self) -> str:  # the key never lands in a log line
        key = "***" if self.api_key else None
        return f"Target(endpoint={self.endpoint!r}, model={self.model!r}, api_key={key})"

    @property
    def url(self) -> str:
        return self.endpoint.rstrip("/") + "/chat/completions"


@dataclass(frozen=True)
class ChatReply:
    """One call's result; `error` is "" on success and says what went wrong otherwise."""

    output: str
    response_model: str
    response_id: str
    finish_reason: str
    input_tokens: int | None  # None when the reply carries no usage
    output_tokens: int | None
    error: str = ""
    error_type: str = ""  # OTel error.type: an HTTP status ("500") or TIMEOUT, CONNECTION, INVALID_REPLY …
    attempts: int = 0


def check_target(target: Target) -> None:
    """ValueError with a message an API can return as a 400."""
    parts = _split_url(target.endpoint)
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"endpoint must be an http(s) URL such as http://host:port/v1, not {target.endpoint!r}")
    if not isinstance(target.model, str) or not target.model.strip():
        raise ValueError("model is required (the model name the endpoint serves)")
    _check_number("temperature", target.temperature, 0.0, 2.0)
    if target.max_tokens is not None and (not _is_int(target.max_tokens) or target.max_tokens < 1):
        raise ValueError(f"max_tokens must be an integer of at least 1, not {target.max_tokens!r}")
    if not _is_number(target.timeout_s) or not 0 < target.timeout_s <= 3600:
        raise ValueError(f"timeout_s must be a number of seconds in (0, 3600], not {target.timeout_s!r}")
    for name in ("api_key", "system_prompt", "prompt_template"):
        if getattr(target, name) is not None and not isinstance(getattr(target, name), str):
            raise ValueError(f"{name} must be a string")


def _split_url(value: Any) -> SplitResult | None:
    try:
        return urlsplit(value) if isinstance(value, str) else None
    except ValueError:  # "http://[::1" and the like
        return None


def _check_number(name: str, value: Any, low: float, high: float) -> None:
    if value is not None and (not _is_number(value) or not low <= value <= high):
        raise ValueError(f"{name} must be a number from {low:g} to {high:g}, not {value!r}")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def build_messages(target: Target, item_input: str | list[dict[str, str]],
                   metadata: dict[str, Any]) -> list[dict[str, str]]:
    """The chat messages for one item: a text through the prompt template as the user message, or a
    message list as is, {{variables}} filled from the metadata; the system prompt first when given.
    Raises TemplateError naming a variable the metadata lacks."""
    if isinstance(item_input, str):
        variables = {**metadata, INPUT_VARIABLE: item_input}
        text = render(target.prompt_template, variables) if target.prompt_template else item_input
        messages = [{"role": "user", "content": text}]
    else:
        messages = [_render_message(message, metadata) for message in item_input]
    if target.system_prompt:
        messages.insert(0, {"role": "system", "content": render(target.system_prompt, metadata)})
    return messages


def _render_message(message: dict[str, Any], metadata: dict[str, Any]) -> dict[str, Any]:
    content = message.get("content")
    return {**message, "content": render(content, metadata)} if isinstance(content, str) else dict(message)


def render(template: str, variables: dict[str, Any]) -> str:
    """`{{name}}` → the variable's text (JSON for a list or an object), in one pass, so a value
    that itself holds braces is never rendered again."""
    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in variables:
            known = ", ".join(sorted(variables)) or "none"
            raise TemplateError(f"template variable {{{{{name}}}}} is not in the item's metadata (it has: {known})")
        return _text(variables[name])
    return _VARIABLE.sub(fill, template)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def request_body(target: Target, messages: list[dict[str, str]]) -> dict[str, Any]:
    body: dict[str, Any] = {"model": target.model, "messages": messages}
    if target.temperature is not None:
        body["temperature"] = target.temperature
    if target.max_tokens is not None:
        body["max_tokens"] = target.max_tokens
    return body


def call_chat(target: Target, messages: list[dict[str, str]], policy: RetryPolicy = TARGET_RETRY_POLICY,
              session: requests.Session | None = None) -> ChatReply:
    """POST one chat completion with retries; never raises. A `session` keeps the connection (and
    its TLS handshake, tens of milliseconds to a provider) for the next call."""
    headers = {"Authorization": f"Bearer {target.api_key}"} if target.api_key else {}
    # The target's timeout is per attempt; the deadline always leaves room for at least one.
    policy = replace(policy, timeout=target.timeout_s, deadline=max(policy.deadline, target.timeout_s))
    result = post_json(target.url, request_body(target, messages), headers=headers, policy=policy,
                       session=session, max_body=MAX_REPLY_CHARS)
    if not result.ok:
        return failed_reply(target.model, *describe_failure(result, target.timeout_s), attempts=result.attempts)
    return replace(parse_reply(result.body, target.model), attempts=result.attempts)


def failed_reply(model: str, error: str, error_type: str, attempts: int = 0) -> ChatReply:
    return ChatReply("", model, "", "", None, None, error, error_type, attempts)


def describe_failure(result: HttpResult, timeout_s: float) -> tuple[str, str]:
    """(error text, error type) for a call that got no 2xx, in words a user can act on."""
    tries = f"{result.attempts} attempt{'s' if result.attempts != 1 else ''} in {result.elapsed:.1f} s"
    if result.status is not None:
        return f"the endpoint answered HTTP {result.status} ({tries}): {result.body[:_BODY_EXCERPT]}", \
            str(result.status)
    if "Timeout" in result.error:
        return f"the endpoint did not answer within {timeout_s:g} s ({tries})", TIMEOUT
    if "ConnectionError" in result.error:
        return f"could not connect to the endpoint ({tries}): {result.error[:_BODY_EXCERPT]}", CONNECTION
    return f"the request could not be sent: {result.error[:_BODY_EXCERPT]}", REQUEST


def parse_reply(body: str, model: str) -> ChatReply:
    """A ChatReply from a 200's body; a body that is not a chat completion is an error saying why."""
    try:
        reply = json.loads(body)
    except ValueError:
        return _invalid(model, f"the endpoint answered 200 with a body that is not JSON: {body[:_BODY_EXCERPT]!r}")
    if not isinstance(reply, dict):
        return _invalid(model, f"the endpoint answered 200 with JSON that is not an object: {body[:_BODY_EXCERPT]!r}")
    served = reply.get("model") if isinstance(reply.get("model"), str) else model
    input_tokens, output_tokens = _usage(reply.get("usage"))
    reply_id = reply.get("id") if isinstance(reply.get("id"), str) else ""
    choice = _first_choice(reply)
    if choice is None:
        error = _error_text(reply) or f"the reply has no choices: {body[:_BODY_EXCERPT]!r}"
        return ChatReply("", served, reply_id, "", input_tokens, output_tokens, error, INVALID_REPLY)
    finish = choice.get("finish_reason") if isinstance(choice.get("finish_reason"), str) else ""
    content = _content(choice.get("message"))
    if content is None:
        error = f"the reply's message has no text content (finish_reason {finish or 'not given'})"
        return ChatReply("", served, reply_id, finish, input_tokens, output_tokens, error, INVALID_REPLY)
    return ChatReply(content, served, reply_id, finish, input_tokens, output_tokens)


def _invalid(model: str, error: str) -> ChatReply:
    return failed_reply(model, error, INVALID_REPLY)


def _first_choice(reply: dict[str, Any]) -> dict[str, Any] | None:
    choices = reply.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        return choices[0]
    return None


def _content(message: Any) -> str | None:
    """The message text: a string, or the text parts of a content list (some compatible APIs)."""
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, list):
        texts = [p.get("text") for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)]
        return "".join(texts) if texts else None
    return content if isinstance(content, str) else None


def _error_text(reply: dict[str, Any]) -> str:
    """A provider's error object sent with a 200 (some proxies do)."""
    error = reply.get("error")
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return f"the endpoint answered 200 with an error: {error['message'][:_BODY_EXCERPT]}"
    return ""


def _usage(usage: Any) -> tuple[int | None, int | None]:
    usage = usage if isinstance(usage, dict) else {}
    return _count(usage.get("prompt_tokens")), _count(usage.get("completion_tokens"))


def _count(value: Any) -> int | None:
    return value if _is_int(value) and value >= 0 else None
