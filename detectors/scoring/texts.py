"""Where the question, the context and the answer of an LLM call live in its stored messages.

Plain text handling, kept apart from the scorer so that the detectors can pick the texts out in
the service process and hand only them to the worker that scores them (`detectors.worker`).
"""

from __future__ import annotations

import json
import re
from typing import Any

from detectors.scoring.prompt_kind import classify_prompt

_SECTION = re.compile(r"^[ \t]*(context|documents|sources|results|search results|retrieved documents|"
                      r"question|query|user question)[ \t]*:[ \t]*", re.IGNORECASE | re.MULTILINE)
_BLOCK_BREAK = re.compile(r"\n\s*\n|\n(?=[ \t]*[-*•][ \t])")  # paragraphs and list items: one document each
_QUESTION_LABELS = frozenset({"question", "query", "user question"})
_CONTEXT_ROLES = frozenset({"system", "developer", "tool"})
INSTRUCTION_ROLES = frozenset({"system", "developer"})


def extract_context(input_messages: list[dict[str, Any]],
                    retrieval_documents: list[dict[str, Any]]) -> tuple[str, list[str]]:
    """(question, contexts) of an LLM call from its normalized input messages and retrieved documents.

    Retrieved documents, system prompts, tool results and the labelled "Context:" blocks of user
    messages are context; the last user message (its "Question:" section when labelled) is the question.
    """
    contexts = [_text(d.get("content")) for d in retrieval_documents if isinstance(d, dict)]
    question = ""
    for message in input_messages:
        if not isinstance(message, dict):
            continue
        text = _message_text(message)
        if message.get("role") in _CONTEXT_ROLES:
            contexts.append(text)
        elif message.get("role", "user") == "user":
            question, blocks = _split_user_message(text)
            contexts.extend(blocks)
    return question, _distinct(contexts)


def has_grounding(input_messages: list[dict[str, Any]], retrieval_documents: list[dict[str, Any]]) -> bool:
    """Whether a call had something to check its answer against: retrieved documents, tool results,
    a labelled context block of a user message, or a system or developer prompt that carries
    context (`prompt_kind`). A bare instruction prompt does not count: scoring chat turns against
    "You are a helpful assistant" would flag nearly every one.
    """
    others = [m for m in input_messages if isinstance(m, dict) and m.get("role") not in INSTRUCTION_ROLES]
    if extract_context(others, retrieval_documents)[1]:
        return True
    return any(classify_prompt(_message_text(m)).is_context for m in input_messages
               if isinstance(m, dict) and m.get("role") in INSTRUCTION_ROLES)


def parse_messages(text: str) -> list[dict[str, Any]]:
    """The objects of a stored JSON list (messages, retrieved documents); [] for anything else."""
    try:
        value = json.loads(text) if text else []
    except ValueError:
        return []
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def answer_text(output_messages: list[dict[str, Any]]) -> str:
    """The text the model answered with (tool calls and reasoning are not part of it)."""
    texts = [_message_text(m) for m in output_messages
             if isinstance(m, dict) and m.get("role", "assistant") == "assistant"]
    return "\n".join(t for t in texts if t)


def _split_user_message(text: str) -> tuple[str, list[str]]:
    """(question, context blocks) of a user message that may label its sections."""
    sections = list(_SECTION.finditer(text))
    if not sections:
        return text.strip(), []
    question, blocks = text[: sections[0].start()].strip(), []
    for match, following in zip(sections, [*sections[1:], None], strict=True):
        body = text[match.end(): following.start() if following else len(text)].strip()
        if match.group(1).lower() in _QUESTION_LABELS:
            question = body
        else:
            blocks.extend(p.strip(" \t\n-*•") for p in _BLOCK_BREAK.split(body) if p.strip())
    return question, blocks


def _message_text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if not content and isinstance(message.get("parts"), list):
        content = message["parts"]
    return _text(content)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(_text(p.get("content") or p.get("text")) if isinstance(p, dict) else _text(p)
                         for p in content)
    return ""


def _distinct(contexts: list[str]) -> list[str]:
    """Non-empty contexts in order, without any contained in another (a document also pasted in the prompt)."""
    texts = list(dict.fromkeys(c.strip() for c in contexts if c and c.strip()))
    return [t for t in texts if not any(t != other and t in other for other in texts)]
