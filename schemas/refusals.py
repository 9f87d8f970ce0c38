"""Is an answer a refusal? The one rule, kept here because two layers need it: ingest decides it for
every call and stores it as the `refusal` column (`collector.signals`), and the drift detector
compares refusal rates between windows by reading that column (`schemas.clickhouse.drift`).

Three kinds of evidence, cheapest first: the provider said so in its finish reason (each provider's
spelling, compared lower-cased); the API put the refusal in a field of its own (OpenAI's
structured-output `refusal`, a Responses API refusal part: `collector.messages` marks such a
message); or the answer opens with one of the phrases below. The phrases are the ones the drift
detector matched in SQL before this rule moved here; migration 0013 keeps that SQL as the column's
default, so spans stored before it read the same verdict they always had. Every LLM span runs it
at ingest: mypyc compiles it with the hot path.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# Lower-cased finish reasons that mean the answer was withheld: OpenAI and OTel `content_filter`,
# the Vercel AI SDK `content-filter`, Anthropic `refusal`, Gemini `SAFETY` / `PROHIBITED_CONTENT` /
# `BLOCKLIST` / `SPII`, Bedrock `guardrail_intervened` and `content_filtered`.
REFUSAL_FINISH_REASONS = frozenset({
    "content_filter", "content-filter", "refusal", "safety", "prohibited_content", "blocklist", "spii",
    "guardrail_intervened", "content_filtered",
})
_PHRASES = re.compile(
    r"i can(?:no|.)?t (?:help|assist|provide|do that)|i.?m (?:sorry|afraid),? (?:but )?i can|unable to (?:help|assist)"
)
# Every phrase above holds one of these, so an answer without either (most) costs two C-level
# substring scans and no regular expression.
_ANCHORS = ("i can", "unable to")
# A refusal says so at once; reading further would cost every long answer and catch answers that
# decline one detail among many.
SCANNED_CHARS = 2000


def refused_by_finish_reason(reasons: Iterable[str]) -> bool:
    return any(reason.lower() in REFUSAL_FINISH_REASONS for reason in reasons)


def refusal_phrase(text: str) -> bool:
    """Does the answer open (its first `SCANNED_CHARS`) with a refusal phrase?"""
    head = text[:SCANNED_CHARS].lower()
    for anchor in _ANCHORS:
        if anchor in head:
            return _PHRASES.search(head) is not None
    return False
