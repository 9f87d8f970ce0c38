"""Which attribute of which GenAI convention means what — the mapping as data.

`collector.normalize` applies these tables; nothing here runs per span. Precedence is one
global order per canonical field rather than one order per convention: conventions share
names (OpenLIT, OpenLLMetry and the Vercel AI SDK all set `gen_ai.*`), and one span often
mixes them, so "first non-null source wins" over a single ordered tuple is both simpler and
right for mixed spans. Sources with a `path` read inside a JSON-valued attribute (Langfuse
usage_details, OpenInference invocation parameters, Vercel providerMetadata); the attribute is
parsed only when it is present. Facts marked "corpus" were checked against the payloads in
../shared/otlp-corpus/ (see its MANIFEST.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas import fields as f

OTEL_GENAI = "otel_genai"
OPENINFERENCE = "openinference"
OPENLLMETRY = "openllmetry"
OPENLIT = "openlit"
VERCEL_AI = "vercel_ai"
LANGFUSE = "langfuse"
GENKIT = "genkit"
GOOGLE_ADK = "google_adk"
NO_CONVENTION = ""

# Intermediate canonical values that are not columns but feed one.
STREAM = "stream"                      # → streaming
FIRST_TOKEN_TIME = "first_token_time"  # absolute timestamp → ttft_ms
MODEL_NAME = "model_name"              # a model attribute that is neither clearly requested nor served
ANY = "*"                              # wildcard provider in EXCLUSIVE_INPUT/OUTPUT
SUM_OF_PARTS = "+"                     # a path step: the sum of the numbers in that object
# A path step `key=value` picks, in a list, the first object whose `key` is `value` (Gemini's
# per-modality counts: [{"modality": "AUDIO", "token_count": 12}, …]).
ITEM_WHERE = "="


@dataclass(frozen=True, slots=True)
class Source:
    """One place a canonical value can come from.

    `scale` converts units (seconds → ms). `zero_is_null` treats 0 as "not reported" (a $0
    cost is how OpenLIT and Langfuse say "no price known", which must stay unpriced, never
    $0). `streaming_only` keeps the value only on streamed calls (OpenLIT writes its TTFT on
    non-streaming calls too, where it is the full latency — corpus). `llm_only` reads the
    source only on LLM spans, so a large payload is not parsed for nothing.
    """

    key: str
    path: tuple[str, ...] = ()
    scale: float = 1.0
    zero_is_null: bool = False
    streaming_only: bool = False
    llm_only: bool = False

    @property
    def source_id(self) -> str:
        """Stable name of this source, used by EXCLUSIVE_INPUT/OUTPUT: `attr` or `attr:json.path`."""
        return f"{self.key}:{'.'.join(self.path)}" if self.path else self.key


def _flat(*keys: str) -> tuple[Source, ...]:
    return tuple(Source(key) for key in keys)


def _inside(key: str, *paths: str) -> tuple[Source, ...]:
    return tuple(Source(key, tuple(path.split("."))) for path in paths)


_LF_USAGE = "langfuse.observation.usage_details"
_LF_COST = "langfuse.observation.cost_details"
_AI_PROVIDER_METADATA = "ai.response.providerMetadata"
_OI_LLM_PARAMS = "llm.invocation_parameters"
_OI_EMBEDDING_PARAMS = "embedding.invocation_parameters"
_LF_MODEL_PARAMS = "langfuse.observation.model.parameters"
# Firebase Genkit: a model action's GenerateResponse (usage, and the raw Gemini response as `custom`).
_GENKIT_OUTPUT = "genkit:output"
# Google ADK's call_llm span: the LlmResponse as pydantic dumps it (snake_case usage_metadata).
_ADK_RESPONSE = "gcp.vertex.agent.llm_response"
_ADK_USAGE = "usage_metadata"


def _genkit(*paths: str) -> tuple[Source, ...]:
    return tuple(Source(_GENKIT_OUTPUT, tuple(path.split(".")), llm_only=True) for path in paths)


def _adk(*paths: str) -> tuple[Source, ...]:
    return tuple(Source(_ADK_RESPONSE, (_ADK_USAGE, *path.split(".")), llm_only=True) for path in paths)


# Canonical field → sources, first non-null wins.
FIELD_SOURCES: dict[str, tuple[Source, ...]] = {
    f.PROVIDER: _flat(
        "gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system", "ai.model.provider",
    ),
    f.OPERATION: _flat("gen_ai.operation.name", "llm.request.type", "ai.operationId"),
    f.REQUEST_MODEL: (
        *_flat("gen_ai.request.model", "llm.request.model_name", "ai.model.id", "llm.request.model"),
        Source("genkit:name", llm_only=True),  # a Genkit model action is named by its model ("googleai/…")
        *_inside(_OI_LLM_PARAMS, "model"),  # OpenInference+OpenAI: request model only here (corpus)
        *_inside(_OI_EMBEDDING_PARAMS, "model"),
    ),
    f.RESPONSE_MODEL: (
        *_flat(
            "gen_ai.response.model", "llm.response.model_name", "ai.response.model", "llm.response.model",
            "llm.model_name",  # OpenInference: the served model (corpus)
            "embedding.model_name",
        ),
        *_genkit("custom.modelVersion"),  # Genkit's Gemini plugins pass the raw response on as `custom`
    ),
    # Langfuse records one model name: the served one when a response came, else the requested.
    MODEL_NAME: _flat("langfuse.observation.model.name"),
    f.RESPONSE_ID: (
        *_flat("gen_ai.response.id", "ai.response.id", "llm.response.id"),
        Source("output.value", ("id",), llm_only=True),  # OpenInference: only in the raw response (corpus)
    ),
    f.SYSTEM_FINGERPRINT: (
        *_flat(
            "openai.response.system_fingerprint", "gen_ai.openai.response.system_fingerprint",
            "gen_ai.openai.system_fingerprint",
        ),
        Source("output.value", ("system_fingerprint",), llm_only=True),
    ),
    f.INPUT_TOKENS: (
        *_flat(
            "gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.token_count.prompt",
            "ai.usage.inputTokens", "ai.usage.promptTokens", "ai.usage.tokens", "llm.usage.prompt_tokens",
        ),
        *_inside(_LF_USAGE, "prompt_tokens", "input_tokens", "input", "promptTokens"),
        Source("ai.usage.inputTokenDetails.noCacheTokens"),
        *_genkit("usage.inputTokens"),
        *_adk("prompt_token_count"),
    ),
    f.OUTPUT_TOKENS: (
        # ADK first: some versions set gen_ai.usage.output_tokens to the call's total_token_count.
        *_adk("candidates_token_count"),
        *_flat(
            "gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens", "llm.token_count.completion",
            "ai.usage.outputTokens", "ai.usage.completionTokens", "llm.usage.completion_tokens",
        ),
        *_inside(_LF_USAGE, "completion_tokens", "output_tokens", "output", "completionTokens"),
        *_genkit("usage.outputTokens"),
    ),
    f.CACHE_READ_TOKENS: (
        *_flat(
            "gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens",
            "llm.token_count.prompt_details.cache_read", "gen_ai.usage.prompt_tokens_details.cached_tokens",
            "ai.usage.inputTokenDetails.cacheReadTokens", "ai.usage.cachedInputTokens",
            "llm.anthropic.usage.cache_read_input_tokens", "gen_ai.usage.details.cache_read_input_tokens",
            "gen_ai.usage.input_cached_tokens",  # the flat usage names Langfuse reads (LiveKit Agents sends them)
        ),
        *_inside(
            _LF_USAGE, "prompt_tokens_details.cached_tokens", "input_tokens_details.cached_tokens",
            "cache_read_input_tokens", "input_cached_tokens", "input_cache_read", "cache_read", "cached_input",
        ),
        *_inside(
            _AI_PROVIDER_METADATA, "anthropic.cacheReadInputTokens",
            "anthropic.usage.cache_read_input_tokens", "bedrock.usage.cacheReadInputTokens",
            "openai.cachedPromptTokens",
        ),
        *_genkit("usage.cachedContentTokens"),
        *_adk("cached_content_token_count"),
    ),
    f.CACHE_WRITE_TOKENS: (
        *_flat(
            "gen_ai.usage.cache_creation.input_tokens", "gen_ai.usage.cache_write.input_tokens",
            "gen_ai.usage.cache_creation_input_tokens", "llm.token_count.prompt_details.cache_write",
            "gen_ai.usage.prompt_tokens_details.cache_creation_tokens",
            "ai.usage.inputTokenDetails.cacheWriteTokens", "llm.anthropic.usage.cache_creation_input_tokens",
            "gen_ai.usage.details.cache_creation_input_tokens", "gen_ai.usage.input_cache_creation",
        ),
        *_inside(
            _LF_USAGE, "cache_creation_input_tokens", "input_cache_creation", "input_cache_write", "cache_write",
        ),
        *_inside(
            _AI_PROVIDER_METADATA, "anthropic.cacheCreationInputTokens",
            "anthropic.usage.cache_creation_input_tokens", "bedrock.usage.cacheWriteInputTokens",
        ),
    ),
    f.REASONING_TOKENS: (
        *_flat(
            "gen_ai.usage.reasoning.output_tokens", "gen_ai.usage.reasoning_tokens",
            "llm.token_count.completion_details.reasoning", "llm.usage.reasoning_tokens",
            "gen_ai.usage.completion_tokens_details.reasoning_tokens", "ai.usage.reasoningTokens",
            "ai.usage.outputTokenDetails.reasoningTokens",
        ),
        *_inside(_LF_USAGE, "completion_tokens_details.reasoning_tokens", "output_reasoning_tokens"),
        *_inside(
            _AI_PROVIDER_METADATA, "openai.reasoningTokens", "google.usageMetadata.thoughtsTokenCount",
            "vertex.usageMetadata.thoughtsTokenCount",
        ),
        *_genkit("usage.thoughtsTokens"),
        *_adk("thoughts_token_count"),
    ),
    # Audio parts of input and output (OpenAI audio and realtime models, Gemini Live): priced at
    # their own rates where the list price has them.
    f.INPUT_AUDIO_TOKENS: (
        *_flat(
            "gen_ai.usage.input_audio_tokens", "llm.token_count.prompt_details.audio",
            "gen_ai.usage.prompt_tokens_details.audio_tokens",
        ),
        *_inside(
            _LF_USAGE, "input_audio_tokens", "input_audio", "prompt_tokens_details.audio_tokens",
            "input_tokens_details.audio_tokens",
        ),
        *_adk("prompt_tokens_details.modality=AUDIO.token_count"),
        # Gemini's own usageMetadata, as the Vercel AI SDK and Genkit pass it on.
        *_inside(
            _AI_PROVIDER_METADATA, "google.usageMetadata.promptTokensDetails.modality=AUDIO.tokenCount",
            "vertex.usageMetadata.promptTokensDetails.modality=AUDIO.tokenCount",
        ),
        *_genkit("custom.usageMetadata.promptTokensDetails.modality=AUDIO.tokenCount"),
    ),
    f.OUTPUT_AUDIO_TOKENS: (
        *_flat(
            "gen_ai.usage.output_audio_tokens", "llm.token_count.completion_details.audio",
            "gen_ai.usage.completion_tokens_details.audio_tokens",
        ),
        *_inside(
            _LF_USAGE, "output_audio_tokens", "output_audio", "completion_tokens_details.audio_tokens",
            "output_tokens_details.audio_tokens",
        ),
        *_adk("candidates_tokens_details.modality=AUDIO.token_count"),
        *_inside(
            _AI_PROVIDER_METADATA, "google.usageMetadata.candidatesTokensDetails.modality=AUDIO.tokenCount",
            "vertex.usageMetadata.candidatesTokensDetails.modality=AUDIO.tokenCount",
        ),
        *_genkit("custom.usageMetadata.candidatesTokensDetails.modality=AUDIO.tokenCount"),
    ),
    f.TOTAL_TOKENS: (
        *_flat(
            "gen_ai.usage.total_tokens", "llm.usage.total_tokens", "llm.token_count.total", "ai.usage.totalTokens",
        ),
        *_inside(_LF_USAGE, "total_tokens", "total"),
        *_genkit("usage.totalTokens"),
        *_adk("total_token_count"),
    ),
    f.COST_REPORTED: (
        Source("gen_ai.usage.cost", zero_is_null=True),  # OpenLIT, USD
        Source("llm.cost.total", zero_is_null=True),     # OpenInference
        Source(_LF_COST, ("total",), zero_is_null=True),  # Langfuse sends all zeros on failures (corpus)
        Source(_LF_COST, (SUM_OF_PARTS,), zero_is_null=True),  # parts only ({"input": …, "output": …})
    ),
    f.TTFT_MS: (
        Source("gen_ai.response.time_to_first_chunk", scale=1000.0),  # OTel ≥1.41, seconds
        Source("gen_ai.server.time_to_first_token", scale=1000.0, streaming_only=True),  # OpenLIT, seconds
        Source("ai.response.msToFirstChunk"),  # Vercel, ms
        Source("ai.stream.msToFirstChunk"),
    ),
    FIRST_TOKEN_TIME: _flat("langfuse.observation.completion_start_time"),  # ISO, maybe JSON-quoted
    STREAM: (
        *_flat("gen_ai.request.stream", "gen_ai.is_streaming", "llm.is_streaming"),
        *_inside(_OI_LLM_PARAMS, "stream"),
        *_inside(_LF_MODEL_PARAMS, "stream"),
    ),
    f.FINISH_REASONS: _flat(
        "gen_ai.response.finish_reasons", "llm.finish_reason", "ai.response.finishReason", "ai.finishReason",
        "langfuse.observation.metadata.finish_reason", "gen_ai.completion.0.finish_reason",
    ),
    f.USER_ID: _flat(
        "user.id", "langfuse.user.id", "enduser.id", "traceloop.association.properties.user_id",
        "traceloop.association.properties.userId", "ai.telemetry.metadata.userId",
        "ai.telemetry.metadata.user_id", "gen_ai.request.user", "gen_ai.user", "llm.user",
    ),
    f.SESSION_ID: _flat(
        "session.id", "gen_ai.conversation.id", "langfuse.session.id",
        "traceloop.association.properties.session_id", "traceloop.association.properties.sessionId",
        "ai.telemetry.metadata.sessionId", "ai.telemetry.metadata.session_id", "langsmith.trace.session_id",
    ),
    f.TAGS: _flat("tag.tags", "langfuse.trace.tags", "ai.telemetry.metadata.tags", "langsmith.span.tags"),
    f.ENVIRONMENT: _flat(
        "deployment.environment.name", "deployment.environment", "langfuse.environment", "gen_ai.environment",
    ),
    f.SERVICE_NAME: _flat("service.name", "gen_ai.application_name"),
    f.ERROR_TYPE: _flat("error.type"),
    # Application-level response cache (not the provider's prompt cache).
    f.CACHE_HIT: _flat(
        "llmpulse.cache_hit", "gen_ai.cache.hit", "gen_ai.response.cache_hit", "cache_hit", "cache.hit",
    ),
    f.STATUS_MESSAGE: _flat("langfuse.observation.status_message"),
}

# Resource attributes consulted before span attributes (same order rules).
RESOURCE_SOURCES: dict[str, tuple[str, ...]] = {
    f.SERVICE_NAME: ("service.name",),
    f.ENVIRONMENT: ("deployment.environment.name", "deployment.environment", "langfuse.environment",
                    "gen_ai.environment"),
}
UNKNOWN_SERVICE_PREFIX = "unknown_service"  # the SDK default; a span-level name beats it

# Span type: (attribute, value → span type); values are lower-cased before lookup.
_LLM, _EMB, _RET, _TOOL, _AGENT, _CHAIN, _OTHER = (
    f.TYPE_LLM, f.TYPE_EMBEDDING, f.TYPE_RETRIEVAL, f.TYPE_TOOL, f.TYPE_AGENT, f.TYPE_CHAIN, f.TYPE_OTHER,
)
VERCEL_SPAN_TYPES: dict[str, str] = {
    # Only the provider-call spans are calls; the wrappers would count each call twice.
    "ai.generatetext.dogenerate": _LLM, "ai.streamtext.dostream": _LLM,
    "ai.generateobject.dogenerate": _LLM, "ai.streamobject.dostream": _LLM,
    "ai.embed.doembed": _EMB, "ai.embedmany.doembed": _EMB, "ai.toolcall": _TOOL,
    "ai.generatetext": _CHAIN, "ai.streamtext": _CHAIN, "ai.generateobject": _CHAIN,
    "ai.streamobject": _CHAIN, "ai.embed": _CHAIN, "ai.embedmany": _CHAIN,
}
VERCEL_OPERATION_NAME = "operation.name"
VERCEL_OPERATION_KEYS = ("ai.operationId", VERCEL_OPERATION_NAME)
# Keys whose value's first word is the hint (the rest names the app's function).
FIRST_WORD_KEYS = frozenset({VERCEL_OPERATION_NAME})
# A span with no type hint at all but a model attribute is an LLM call (older OTel, OpenLLMetry).
MODEL_HINT_KEYS = ("gen_ai.request.model", "gen_ai.response.model", "llm.model_name", "ai.model.id")
SPAN_TYPE_SOURCES: tuple[tuple[str, dict[str, str]], ...] = (
    ("openinference.span.kind", {
        "llm": _LLM, "embedding": _EMB, "retriever": _RET, "reranker": _RET, "tool": _TOOL, "agent": _AGENT,
        "chain": _CHAIN, "guardrail": _OTHER, "evaluator": _OTHER, "prompt": _OTHER, "unknown": _OTHER,
    }),
    ("langfuse.observation.type", {
        "generation": _LLM, "embedding": _EMB, "retriever": _RET, "tool": _TOOL, "agent": _AGENT,
        "chain": _CHAIN, "span": _OTHER, "event": _OTHER, "evaluator": _OTHER, "guardrail": _OTHER,
    }),
    ("ai.operationId", VERCEL_SPAN_TYPES),
    # "<operationId> <functionId>": what older SDKs and renamed spans carry instead of ai.operationId.
    (VERCEL_OPERATION_NAME, VERCEL_SPAN_TYPES),
    ("genkit:metadata:subtype", {
        "model": _LLM, "embedder": _EMB, "retriever": _RET, "reranker": _RET, "indexer": _OTHER,
        "tool": _TOOL, "flow": _CHAIN, "prompt": _OTHER, "util": _OTHER,
    }),
    ("genkit:type", {"flow": _CHAIN, "flowstep": _CHAIN}),  # older Genkit flows
    ("traceloop.span.kind", {"workflow": _CHAIN, "task": _CHAIN, "agent": _AGENT, "tool": _TOOL}),
    ("gen_ai.operation.name", {
        "chat": _LLM, "text_completion": _LLM, "generate_content": _LLM, "completion": _LLM,
        "embeddings": _EMB, "embedding": _EMB, "execute_tool": _TOOL, "invoke_agent": _AGENT,
        "create_agent": _AGENT, "retrieval": _RET, "invoke_workflow": _CHAIN,
    }),
    ("llm.request.type", {"chat": _LLM, "completion": _LLM, "embedding": _EMB, "rerank": _RET}),
    ("langsmith.span.kind", {
        "llm": _LLM, "embedding": _EMB, "retriever": _RET, "tool": _TOOL, "chain": _CHAIN,
        "prompt": _OTHER, "parser": _OTHER,
    }),
)

# Operation names normalized to the OTel values; a missing operation is derived from span type.
OPERATION_ALIASES: dict[str, str] = {
    "completion": "text_completion", "embedding": "embeddings",
    "ai.generatetext.dogenerate": "chat", "ai.streamtext.dostream": "chat",
    "ai.generateobject.dogenerate": "chat", "ai.streamobject.dostream": "chat",
    "ai.embed.doembed": "embeddings", "ai.embedmany.doembed": "embeddings", "ai.toolcall": "execute_tool",
}
SPAN_TYPE_OPERATIONS: dict[str, str] = {
    _LLM: "chat", _EMB: "embeddings", _TOOL: "execute_tool", _AGENT: "invoke_agent",
}

# Elsewhere, as data too: provider names and the provider a model id implies (providers.py), which
# count leaves which parts out (token_parts.py), calls known only by their span name and scope
# (genai_scopes.py), and where message content is carried (message_carriers.py).

# Convention detection: scope-name prefixes first, then marker attributes, in this order.
SCOPE_CONVENTIONS: tuple[tuple[str, str], ...] = (
    ("openinference.", OPENINFERENCE), ("openlit.", OPENLIT), ("langfuse", LANGFUSE),
    ("traceloop.", OPENLLMETRY), ("opentelemetry.instrumentation.openai.v", OPENLLMETRY),
    ("gcp.vertex.agent", GOOGLE_ADK), ("genkit", GENKIT),
)
VERCEL_SCOPE = "ai"
MARKER_KEYS: tuple[tuple[str, frozenset[str]], ...] = (
    (OPENINFERENCE, frozenset({"openinference.span.kind", "llm.token_count.prompt", "llm.model_name"})),
    (VERCEL_AI, frozenset({"ai.operationId", "ai.model.id", "ai.model.provider", "ai.usage.promptTokens",
                           "ai.usage.inputTokens", "ai.telemetry.functionId"})),
    (OPENLIT, frozenset({"gen_ai.usage.cost", "gen_ai.application_name", "gen_ai.environment",
                         "openlit.agent.version_hash"})),
    (OPENLLMETRY, frozenset({"llm.request.type", "llm.usage.total_tokens", "gen_ai.is_streaming",
                             "llm.is_streaming", "gen_ai.openai.api_base", "traceloop.span.kind",
                             "traceloop.workflow.name", "traceloop.entity.name", "gen_ai.prompt.0.content",
                             "gen_ai.completion.0.content"})),
    (LANGFUSE, frozenset({"langfuse.observation.type", "langfuse.trace.name",
                          "langfuse.observation.model.name", "langfuse.observation.usage_details"})),
    (GENKIT, frozenset({"genkit:type", "genkit:metadata:subtype", "genkit:name", "genkit:path"})),
    (GOOGLE_ADK, frozenset({_ADK_RESPONSE, "gcp.vertex.agent.llm_request", "gcp.vertex.agent.event_id"})),
)
# Prefixes rank below every exact marker. `traceloop.` and `langfuse.` are deliberately not
# prefixes: OpenLLMetry copies `traceloop.association.properties.*` and the Langfuse SDK copies
# `langfuse.environment`/`.release` onto every span of the app, GenAI or not (corpus).
MARKER_PREFIXES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (OTEL_GENAI, ("gen_ai.",)),
)
SDK_NAME_KEY = "telemetry.sdk.name"
OPENLIT_SDK_NAME = "openlit"  # OpenLIT stamps `telemetry.sdk.name` on its spans (corpus)

EXCEPTION_EVENT = "exception"
EXCEPTION_TYPE = "exception.type"
# The first of these span events marks the first streamed token (OpenInference, OpenLLMetry, Vercel).
FIRST_TOKEN_EVENTS = frozenset({
    "First Token Stream Event", "gen_ai.content.completion.chunk", "ai.stream.firstChunk",
})
STREAMING_SPAN_NAMES = frozenset({"ai.streamtext", "ai.streamtext.dostream", "ai.streamobject",
                                  "ai.streamobject.dostream"})

RETRIEVAL_PREFIX = "retrieval.documents."
RETRIEVAL_JSON = "gen_ai.retrieval.documents"
LANGFUSE_LEVEL = "langfuse.observation.level"
LANGFUSE_ERROR_LEVEL = "ERROR"
