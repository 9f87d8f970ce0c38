"""Calls known only by their span name and instrumentation scope.

Some instrumentations send a failed call with no GenAI attribute at all (OpenLIT 1.45 on an
Anthropic 429: name `chat claude-3-5-haiku-20241022`, scope `openlit.instrumentation.anthropic`,
an `exception` event, an error status). The OTel GenAI span name `{operation} {model}` and the
scope are then the only evidence; both must agree, so an application's own span that happens to
be called "chat room" (not a GenAI scope) or an HTTP client span (not a GenAI name) stays what it is.
"""

from __future__ import annotations

from typing import NamedTuple

from schemas import genai_scopes as gs
from schemas import providers as pv


class NamedCall(NamedTuple):
    """What a GenAI span name and scope say about a call: its operation, type, model, provider."""

    operation: str
    span_type: str
    model: str
    provider: str


def named_call(name: str, scope: str) -> NamedCall | None:
    """The call a span's name and scope describe, or None when they do not describe one."""
    operation, _, model = name.partition(" ")
    span_type = gs.NAMED_CALL_OPERATIONS.get(operation)
    if span_type is None or not model or model != model.strip() or " " in model:
        return None
    for prefix, provider in gs.GENAI_SCOPES:
        if scope.startswith(prefix):
            return NamedCall(operation, span_type, model, provider or _provider_in_scope(scope[len(prefix):]))
    return None


def _provider_in_scope(rest: str) -> str:
    """`anthropic` of `openlit.instrumentation.anthropic`: the scope's next segment, if a known provider."""
    segment = rest.split(".", 1)[0].strip().lower()
    return pv.PROVIDER_ALIASES.get(segment, "")
