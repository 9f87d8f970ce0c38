"""Canonical column names of the `spans` table; code refers to these, never to bare strings."""

from __future__ import annotations

PROJECT_ID = "project_id"
TRACE_ID = "trace_id"
SPAN_ID = "span_id"
PARENT_SPAN_ID = "parent_span_id"
NAME = "name"
KIND = "kind"
SERVICE_NAME = "service_name"
ENVIRONMENT = "environment"
SCOPE_NAME = "scope_name"
CONVENTION = "convention"
START_TIME = "start_time"
END_TIME = "end_time"
DURATION_MS = "duration_ms"
STATUS_CODE = "status_code"
STATUS_MESSAGE = "status_message"
ERROR_TYPE = "error_type"
SPAN_TYPE = "span_type"
PROVIDER = "provider"
OPERATION = "operation"
REQUEST_MODEL = "request_model"
RESPONSE_MODEL = "response_model"
RESPONSE_ID = "response_id"
SYSTEM_FINGERPRINT = "system_fingerprint"
INPUT_TOKENS = "input_tokens"
OUTPUT_TOKENS = "output_tokens"
CACHE_READ_TOKENS = "cache_read_tokens"
CACHE_WRITE_TOKENS = "cache_write_tokens"
REASONING_TOKENS = "reasoning_tokens"
TOTAL_TOKENS = "total_tokens"
INPUT_AUDIO_TOKENS = "input_audio_tokens"    # the audio part of input_tokens
OUTPUT_AUDIO_TOKENS = "output_audio_tokens"  # the audio part of output_tokens
TTFT_MS = "ttft_ms"
FINISH_REASONS = "finish_reasons"
STREAMING = "streaming"
CACHE_HIT = "cache_hit"
COST_INPUT = "cost_input"
COST_OUTPUT = "cost_output"
COST_CACHE_READ = "cost_cache_read"
COST_CACHE_WRITE = "cost_cache_write"
COST_REQUEST = "cost_request"  # a per-request fee (Perplexity), outside the token parts
COST_INPUT_AUDIO = "cost_input_audio"    # audio input at its own rate (0 when priced as text)
COST_OUTPUT_AUDIO = "cost_output_audio"
COST_TOTAL = "cost_total"
COST_SOURCE = "cost_source"
COST_REPORTED = "cost_reported"
COST_COMPUTED = "cost_computed"  # what llmpulse's own prices make of a call, whichever cost counts
USER_ID = "user_id"
SESSION_ID = "session_id"
TAGS = "tags"
INPUT_MESSAGES = "input_messages"
OUTPUT_MESSAGES = "output_messages"
RETRIEVAL_DOCUMENTS = "retrieval_documents"
ATTRIBUTES = "attributes"
RESOURCE_ATTRIBUTES = "resource_attributes"
EVENTS = "events"
LINKS = "links"
IS_CALL = "is_call"
CALL_KEY = "call_key"
SHADOW_OF = "shadow_of"  # the primary call's span id on a shadow call (migration 0010)
# Per-call failure signals (migration 0013, `collector.signals`): what went wrong with an answer.
JSON_REQUESTED = "json_requested"  # the request asked for JSON (a response format, a schema) or got a tool call
PARSE_FAILURE = "parse_failure"    # ... and the answer is not valid JSON or breaks the schema given
REFUSAL = "refusal"                # the model declined to answer (`schemas.refusals`)
TRUNCATED = "truncated"            # the answer stopped at the token limit
TOOL_ERROR = "tool_error"          # a tool failed: a failed tool span, or a call told of a failed tool

# Span types (`span_type` values).
TYPE_LLM = "llm"
TYPE_EMBEDDING = "embedding"
TYPE_RETRIEVAL = "retrieval"
TYPE_TOOL = "tool"
TYPE_AGENT = "agent"
TYPE_CHAIN = "chain"
TYPE_OTHER = "other"
CALL_TYPES = (TYPE_LLM, TYPE_EMBEDDING)

# Cost sources (`cost_source` values).
SOURCE_LIST_PRICE = "list_price"
SOURCE_OVERRIDE = "override"
SOURCE_REPORTED = "reported"
SOURCE_UNPRICED = "unpriced"
SOURCE_NONE = ""

COST_FIELDS = (COST_INPUT, COST_OUTPUT, COST_CACHE_READ, COST_CACHE_WRITE, COST_REQUEST, COST_TOTAL)
# Audio counts and costs: parts of the columns above, kept apart (added by migration 0007).
AUDIO_TOKEN_FIELDS = (INPUT_AUDIO_TOKENS, OUTPUT_AUDIO_TOKENS)
AUDIO_COST_FIELDS = (COST_INPUT_AUDIO, COST_OUTPUT_AUDIO)
SIGNAL_FIELDS = (JSON_REQUESTED, PARSE_FAILURE, REFUSAL, TRUNCATED, TOOL_ERROR)
TOKEN_FIELDS = (
    INPUT_TOKENS, OUTPUT_TOKENS, CACHE_READ_TOKENS, CACHE_WRITE_TOKENS, REASONING_TOKENS, TOTAL_TOKENS,
)

# Every column the collector writes, in DDL order. `ingested_at` is filled by ClickHouse.
SPAN_COLUMNS: tuple[str, ...] = (
    PROJECT_ID, TRACE_ID, SPAN_ID, PARENT_SPAN_ID, NAME, KIND, SERVICE_NAME, ENVIRONMENT,
    SCOPE_NAME, CONVENTION, START_TIME, END_TIME, DURATION_MS, STATUS_CODE, STATUS_MESSAGE,
    ERROR_TYPE, SPAN_TYPE, PROVIDER, OPERATION, REQUEST_MODEL, RESPONSE_MODEL, RESPONSE_ID,
    SYSTEM_FINGERPRINT, *TOKEN_FIELDS, TTFT_MS, FINISH_REASONS, STREAMING, CACHE_HIT,
    *COST_FIELDS, COST_SOURCE, COST_REPORTED, COST_COMPUTED, USER_ID, SESSION_ID, TAGS, INPUT_MESSAGES,
    OUTPUT_MESSAGES, RETRIEVAL_DOCUMENTS, ATTRIBUTES, RESOURCE_ATTRIBUTES, EVENTS, LINKS,
    IS_CALL, CALL_KEY, *AUDIO_TOKEN_FIELDS, *AUDIO_COST_FIELDS, SHADOW_OF, *SIGNAL_FIELDS,
)

# The attribute normalization adds to a span whose count or cost it refused (collector/counts.py),
# saying which and why; the trace view shows it where the NULL count stands.
REFUSED_ATTRIBUTE = "llmpulse.refused"
# The attribute normalization adds to a call whose answer failed its structured-output check, saying
# why (not JSON, or which part of the schema it breaks); the trace view shows it beside the signal.
PARSE_FAILURE_ATTRIBUTE = "llmpulse.parse_failure"
# The resource attribute ingest sets on every span to the id of the ingest key that sent it (never
# the key itself; absent when none was sent): budgets per ingest key group spend by it. A value an
# app sends under this name is dropped, so a span cannot claim another key's spend.
INGEST_KEY_ATTRIBUTE = "llmpulse.ingest_key"
