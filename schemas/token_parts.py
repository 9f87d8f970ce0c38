"""Which token count of which convention leaves which parts out — the rules as data.

OTel rule: input_tokens counts every input token, cached and audio ones included, and
output_tokens every generated one, reasoning and audio included. Instrumentations disagree, and
the numbers cannot tell which way a count went, so each exception is written down here, per
convention, provider and (where it changed) version; `collector.usage` applies the rules. A
rule's `source` is the id of a `schemas.conventions.FIELD_SOURCES` entry (`attr` or
`attr:json.path`); a typo there is refused when the collector starts.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas import fields as f
from schemas.conventions import ANY, GENKIT, GOOGLE_ADK, LANGFUSE, OPENLIT, VERCEL_AI
from schemas.providers import BEDROCK

LF_USAGE = "langfuse.observation.usage_details"
GENKIT_OUTPUT = "genkit:output"
ADK_RESPONSE = "gcp.vertex.agent.llm_response"
ADK_USAGE = "usage_metadata"

NO_COUNT = ""  # a rule's source for spans that carry no count at all: then their parts are the whole
_CACHE = (f.CACHE_READ_TOKENS, f.CACHE_WRITE_TOKENS)
_REASONING = (f.REASONING_TOKENS,)


@dataclass(frozen=True, slots=True)
class ExclusiveCount:
    """A count that leaves parts out, so those parts are added back to it.

    `provider` is matched against the normalized provider (inferred from the model when the span
    names none), or as a prefix of the provider as the span spelled it (`vertex.anthropic`, which
    normalizes to Vertex, whose Gemini models count otherwise). `unless` names attributes whose
    presence shows a newer version of the same source, which counts inclusively. `leaves_out`
    names the part columns added back.
    """

    convention: str
    provider: str
    source: str
    unless: tuple[str, ...] = ()
    leaves_out: tuple[str, ...] = _CACHE


_VERCEL_V6 = ("ai.usage.inputTokenDetails.noCacheTokens", "ai.usage.inputTokenDetails.cacheReadTokens")
_VERCEL_V6_OUTPUT = ("ai.usage.outputTokenDetails.textTokens", "ai.usage.outputTokenDetails.reasoningTokens")
# Before v6 the Vercel AI SDK passed on the provider's raw input count, which leaves cache out
# for the Anthropic Messages API wherever it is hosted and for Bedrock's Converse API (a span
# that names no provider gets it from its Bedrock model id: `us.anthropic.claude-…-v2:0`).
_VERCEL_EXCLUSIVE_INPUT_APIS = ("anthropic", "vertex.anthropic", BEDROCK)
_VERCEL_INPUT_COUNTS = ("gen_ai.usage.input_tokens", "ai.usage.inputTokens", "ai.usage.promptTokens")
_GEMINI_APIS = ("gcp.gemini", "gcp.vertex_ai")
EXCLUSIVE_INPUT: tuple[ExclusiveCount, ...] = (
    # OpenLIT passes Anthropic's raw `input_tokens`, which excludes cache (corpus: Σ 391 vs 3115).
    ExclusiveCount(OPENLIT, "anthropic", "gen_ai.usage.input_tokens"),
    # Langfuse usage types are disjoint and summed: its `input` is what no detail key counts
    # (its OpenAI integration subtracts every `input_*` detail, audio included).
    ExclusiveCount(LANGFUSE, ANY, f"{LF_USAGE}:input", leaves_out=(*_CACHE, f.INPUT_AUDIO_TOKENS)),
    # …and it drops `input` when the details account for all of it (everything cached).
    ExclusiveCount(LANGFUSE, ANY, NO_COUNT, leaves_out=(*_CACHE, f.INPUT_AUDIO_TOKENS)),
    ExclusiveCount(LANGFUSE, "anthropic", f"{LF_USAGE}:input_tokens"),  # raw Anthropic usage keys
    # Vercel: noCacheTokens is by definition exclusive.
    ExclusiveCount(VERCEL_AI, ANY, "ai.usage.inputTokenDetails.noCacheTokens"),
    *(ExclusiveCount(VERCEL_AI, api, count, _VERCEL_V6)
      for api in _VERCEL_EXCLUSIVE_INPUT_APIS for count in _VERCEL_INPUT_COUNTS),
)
# Gemini bills thoughts as output but counts them apart from candidatesTokenCount: the Vercel
# AI SDK before v6 (v6 adds them in; Vertex hosts Gemini too), Genkit's Gemini plugins and
# Google ADK's usage_metadata pass the candidates count on as the output.
_VERCEL_OUTPUT_COUNTS = ("gen_ai.usage.output_tokens", "ai.usage.outputTokens", "ai.usage.completionTokens")
EXCLUSIVE_OUTPUT: tuple[ExclusiveCount, ...] = (
    *(ExclusiveCount(VERCEL_AI, api, count, _VERCEL_V6_OUTPUT, _REASONING)
      for api in ("gcp.gemini", "google.vertex") for count in _VERCEL_OUTPUT_COUNTS),
    *(ExclusiveCount(GENKIT, api, f"{GENKIT_OUTPUT}:usage.outputTokens", leaves_out=_REASONING)
      for api in _GEMINI_APIS),
    *(ExclusiveCount(GOOGLE_ADK, api, f"{ADK_RESPONSE}:{ADK_USAGE}.candidates_token_count",
                     leaves_out=_REASONING) for api in _GEMINI_APIS),
    # Langfuse's `output` is what no `output_*` detail counts (reasoning, audio).
    ExclusiveCount(LANGFUSE, ANY, f"{LF_USAGE}:output", leaves_out=(*_REASONING, f.OUTPUT_AUDIO_TOKENS)),
    ExclusiveCount(LANGFUSE, ANY, NO_COUNT, leaves_out=(*_REASONING, f.OUTPUT_AUDIO_TOKENS)),
)
