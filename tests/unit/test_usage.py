"""Which counts include which parts, by the convention table; the conventions read for it (Vercel
AI SDK on Bedrock and its operation.name, Firebase Genkit, Google ADK, Langfuse's usage names);
audio tokens counted apart. Payloads have the shapes the real instrumentations emit."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from genai_prices import Usage, calc_price

from collector.normalize import normalize_span
from collector.pricing import PriceBook, price_row
from collector.usage import index_rules
from schemas import conventions as cv
from schemas import fields as f
from schemas import providers as pv
from schemas import token_parts as tp
from schemas.records import RawSpan

START = 1_795_427_105_114_696_957
AT = datetime.fromtimestamp(START / 1e9, UTC)
PARTS = (f.INPUT_TOKENS, f.OUTPUT_TOKENS, f.CACHE_READ_TOKENS, f.CACHE_WRITE_TOKENS, f.REASONING_TOKENS,
         f.TOTAL_TOKENS, f.INPUT_AUDIO_TOKENS, f.OUTPUT_AUDIO_TOKENS)


def row_of(attributes: dict[str, Any], scope: str = "", name: str = "chat") -> dict[str, Any]:
    span = RawSpan(
        trace_id="0af7651916cd43dd8448eb211c80319c", span_id="b7ad6b7169203331", parent_span_id="", name=name,
        kind=3, start_ns=START, end_ns=START + 250_000_000, status_code=1, status_message="",
        attributes=attributes, resource={"service.name": "shop"}, scope_name=scope, scope_version="",
    )
    return normalize_span(span, "acme")


def tokens(row: dict[str, Any]) -> tuple[int, ...]:
    return tuple(row[name] for name in PARTS)


def priced(row: dict[str, Any]) -> dict[str, Any]:
    price_row(row, PriceBook())
    costs = [row[name] for name in (*f.COST_FIELDS, *f.AUDIO_COST_FIELDS) if name != f.COST_TOTAL]
    assert row[f.COST_TOTAL] == sum(costs)  # the parts add up to the total, audio included
    return row


def list_total(model: str, provider: str, **usage: int) -> Any:
    return calc_price(Usage(**usage), model_ref=model, provider_id=provider, genai_request_timestamp=AT).total_price


# --- item 9: the table decides, never the numbers; Bedrock ids ---------------------------------------

# A Vercel AI SDK (v4/v5) generateText call on Bedrock's Converse API, as the issue reported it:
# ai.usage.tokens (10394) = 5734 input + 178 output + 4482 cache read, so the input excludes the cache.
BEDROCK_MODEL = "anthropic.claude-3-5-sonnet-20241022-v2:0"
VERCEL_BEDROCK = {
    "operation.name": "ai.generateText.doGenerate chat-bot", "ai.operationId": "ai.generateText.doGenerate",
    "ai.model.id": BEDROCK_MODEL, "gen_ai.request.model": BEDROCK_MODEL, "gen_ai.response.model": BEDROCK_MODEL,
    "ai.usage.promptTokens": 5734, "ai.usage.completionTokens": 178, "ai.usage.tokens": 10394,
    "gen_ai.usage.input_tokens": 5734, "gen_ai.usage.output_tokens": 178,
    "ai.response.finishReason": "stop", "ai.telemetry.functionId": "chat-bot",
    "ai.response.providerMetadata": json.dumps(
        {"bedrock": {"usage": {"cacheReadInputTokens": 4482, "cacheWriteInputTokens": 0}}}),
}


@pytest.mark.parametrize("region", ["", "us.", "eu.", "apac."])
def test_vercel_bedrock_input_excludes_the_cache_by_rule_and_is_priced_as_bedrock(region: str) -> None:
    model = region + BEDROCK_MODEL
    row = priced(row_of({**VERCEL_BEDROCK, "ai.model.id": model, "gen_ai.request.model": model,
                         "gen_ai.response.model": model}, scope="ai", name="ai.generateText.doGenerate"))
    assert (row[f.CONVENTION], row[f.PROVIDER]) == (cv.VERCEL_AI, pv.BEDROCK)
    assert tokens(row) == (10216, 178, 4482, 0, 0, 10394, 0, 0)
    assert row[f.COST_SOURCE] == f.SOURCE_LIST_PRICE
    assert row[f.COST_TOTAL] == list_total(model, "aws", input_tokens=10216, output_tokens=178,
                                           cache_read_tokens=4482)


def test_vercel_v6_on_bedrock_counts_inclusively() -> None:
    row = row_of({**VERCEL_BEDROCK, "gen_ai.usage.input_tokens": 10216, "ai.usage.inputTokens": 10216,
                  "ai.usage.inputTokenDetails.noCacheTokens": 5734,
                  "ai.usage.inputTokenDetails.cacheReadTokens": 4482}, scope="ai")
    assert tokens(row)[:3] == (10216, 178, 4482)


def test_a_small_count_beside_a_large_part_is_kept_when_no_rule_names_it() -> None:
    """OpenLLMetry's Anthropic input already holds the cache (corpus): a cache count larger than
    the input is then odd data, kept as sent, not a sign the input left the cache out."""
    row = row_of({"llm.request.type": "chat", "gen_ai.system": "Anthropic", "gen_ai.request.model": "claude-3-5-haiku",
                  "gen_ai.usage.prompt_tokens": 300, "gen_ai.usage.cache_read_input_tokens": 1000,
                  "gen_ai.usage.completion_tokens": 5, "gen_ai.usage.reasoning_tokens": 50},
                 scope="opentelemetry.instrumentation.anthropic")
    assert tokens(row) == (300, 5, 1000, 0, 50, 305, 0, 0)


def test_a_rule_leaving_out_an_unknown_part_is_refused() -> None:
    rule = tp.ExclusiveCount(cv.LANGFUSE, cv.ANY, "gen_ai.usage.input_tokens", leaves_out=("image_tokens",))
    with pytest.raises(ValueError, match="unknown parts"):
        index_rules((rule,), "EXCLUSIVE_INPUT")


# --- item 10: the Vercel AI SDK's operation.name ------------------------------------------------------


def test_vercel_embedding_named_only_by_operation_name_is_an_embedding_call() -> None:
    row = row_of({"operation.name": "ai.embedMany.doEmbed docs-indexer", "resource.name": "docs-indexer",
                  "ai.model.id": "text-embedding-3-small", "ai.model.provider": "openai.embedding",
                  "ai.usage.tokens": 120, "ai.telemetry.functionId": "docs-indexer"},
                 scope="ai", name="embed product docs")
    assert (row[f.SPAN_TYPE], row[f.OPERATION], row[f.IS_CALL]) == (f.TYPE_EMBEDDING, "embeddings", True)
    assert row[f.INPUT_TOKENS] == 120


def test_vercel_tool_call_named_only_by_operation_name_is_a_tool_not_a_call() -> None:
    row = row_of({"operation.name": "ai.toolCall weather-bot", "ai.toolCall.name": "weather",
                  "ai.toolCall.id": "call_1", "ai.toolCall.args": '{"city": "Oslo"}'},
                 scope="ai", name="weather tool")
    assert (row[f.SPAN_TYPE], row[f.OPERATION], row[f.IS_CALL]) == (f.TYPE_TOOL, "execute_tool", False)


def test_vercel_renamed_stream_call_is_known_as_streamed_by_operation_name() -> None:
    row = row_of({"operation.name": "ai.streamText.doStream chat-bot", "ai.model.id": "gpt-4o-mini",
                  "ai.model.provider": "openai.chat", "ai.usage.promptTokens": 17, "ai.usage.completionTokens": 24},
                 scope="ai", name="answer question")
    assert (row[f.SPAN_TYPE], row[f.STREAMING]) == (f.TYPE_LLM, True)


def test_operation_name_of_other_libraries_types_nothing() -> None:
    row = row_of({"operation.name": "GET /users", "http.method": "GET"}, scope="opentelemetry.instrumentation.flask")
    assert (row[f.SPAN_TYPE], row[f.OPERATION]) == (f.TYPE_OTHER, "")


# --- item 11: Firebase Genkit ------------------------------------------------------------------------

GENKIT_USAGE = {"inputCharacters": 420, "inputImages": 0, "outputCharacters": 310, "inputTokens": 1200,
                "outputTokens": 80, "thoughtsTokens": 300, "totalTokens": 1580, "cachedContentTokens": 1024}
GENKIT_MODEL_SPAN = {
    "genkit:type": "action", "genkit:metadata:subtype": "model", "genkit:name": "googleai/gemini-2.5-flash",
    "genkit:path": "/{jokeFlow,t:flow}/{generate,t:util}/{googleai/gemini-2.5-flash,t:action,s:model}",
    "genkit:input": json.dumps({"messages": [{"role": "user", "content": [{"text": "A joke about cats"}]}],
                                "config": {}, "tools": [], "output": {}}),
    "genkit:output": json.dumps({
        "candidates": [{"index": 0, "message": {"role": "model", "content": [{"text": "Why…"}]},
                        "finishReason": "stop"}],
        "usage": GENKIT_USAGE,
        "custom": {"modelVersion": "gemini-2.5-flash", "responseId": "r-1", "usageMetadata": {
            "promptTokenCount": 1200, "candidatesTokenCount": 80, "thoughtsTokenCount": 300,
            "cachedContentTokenCount": 1024, "totalTokenCount": 1580}},
    }),
    "genkit:state": "success",
}


def test_genkit_model_action_usage_inside_its_output() -> None:
    row = priced(row_of(GENKIT_MODEL_SPAN, scope="genkit-tracer", name="googleai/gemini-2.5-flash"))
    assert (row[f.CONVENTION], row[f.SPAN_TYPE], row[f.PROVIDER]) == (cv.GENKIT, f.TYPE_LLM, "gcp.gemini")
    assert (row[f.REQUEST_MODEL], row[f.RESPONSE_MODEL]) == ("googleai/gemini-2.5-flash", "gemini-2.5-flash")
    # Gemini's thoughts are billed as output; Genkit's outputTokens is candidatesTokenCount alone.
    assert tokens(row) == (1200, 380, 1024, 0, 300, 1580, 0, 0)
    assert row[f.COST_TOTAL] == list_total("gemini-2.5-flash", "google", input_tokens=1200, output_tokens=380,
                                           cache_read_tokens=1024)


def test_genkit_flow_is_a_chain_without_a_model() -> None:
    row = row_of({"genkit:type": "action", "genkit:metadata:subtype": "flow", "genkit:name": "jokeFlow",
                  "genkit:isRoot": True, "genkit:output": '"Why…"', "genkit:state": "success"}, scope="genkit-tracer")
    assert (row[f.CONVENTION], row[f.SPAN_TYPE], row[f.IS_CALL], row[f.REQUEST_MODEL]) == (
        cv.GENKIT, f.TYPE_CHAIN, False, "")


def test_older_genkit_flow_step_is_a_chain() -> None:
    row = row_of({"genkit:type": "flowStep", "genkit:name": "fetch-context"}, scope="genkit-tracer")
    assert (row[f.SPAN_TYPE], row[f.IS_CALL]) == (f.TYPE_CHAIN, False)


# --- item 11: Google ADK -----------------------------------------------------------------------------


def adk_call(usage: dict[str, Any], **extra: Any) -> dict[str, Any]:
    response = {"content": {"role": "model", "parts": [{"text": "It is sunny."}]}, "usage_metadata": usage}
    attributes = {
        "gen_ai.system": "gcp.vertex.agent", "gen_ai.request.model": "gemini-2.5-flash",
        "gcp.vertex.agent.invocation_id": "e-1", "gcp.vertex.agent.session_id": "s-1",
        "gcp.vertex.agent.event_id": "ev-1", "gcp.vertex.agent.llm_request": json.dumps(
            {"model": "gemini-2.5-flash", "config": {}, "contents": []}),
        "gcp.vertex.agent.llm_response": json.dumps(response), **extra,
    }
    return row_of(attributes, scope="gcp.vertex.agent", name="call_llm")


def test_adk_cache_thoughts_and_audio_come_from_its_llm_response() -> None:
    usage = {"cached_content_token_count": 2048, "candidates_token_count": 60, "prompt_token_count": 2600,
             "prompt_tokens_details": [{"modality": "TEXT", "token_count": 2200},
                                       {"modality": "AUDIO", "token_count": 400}],
             "thoughts_token_count": 100, "total_token_count": 2760}
    # Some ADK versions set output_tokens to the call's total_token_count: the response is read first.
    row = priced(adk_call(usage, **{"gen_ai.usage.input_tokens": 2600, "gen_ai.usage.output_tokens": 2760}))
    assert (row[f.CONVENTION], row[f.SPAN_TYPE], row[f.PROVIDER]) == (cv.GOOGLE_ADK, f.TYPE_LLM, "gcp.gemini")
    assert tokens(row) == (2600, 160, 2048, 0, 100, 2760, 400, 0)
    assert row[f.COST_INPUT_AUDIO] > 0  # Gemini 2.5 Flash lists an audio input rate
    assert row[f.COST_TOTAL] == list_total("gemini-2.5-flash", "google", input_tokens=2600, output_tokens=160,
                                           cache_read_tokens=2048, input_audio_tokens=400,
                                           cache_audio_read_tokens=0)


def test_adk_tool_span_is_a_tool() -> None:
    row = row_of({"gen_ai.system": "gcp.vertex.agent", "gen_ai.operation.name": "execute_tool",
                  "gen_ai.tool.name": "get_weather", "gcp.vertex.agent.llm_request": "{}",
                  "gcp.vertex.agent.llm_response": "{}"}, scope="gcp.vertex.agent", name="execute_tool get_weather")
    assert (row[f.CONVENTION], row[f.SPAN_TYPE], row[f.IS_CALL]) == (cv.GOOGLE_ADK, f.TYPE_TOOL, False)


# --- item 11: Langfuse's usage names, audio --------------------------------------------------------


def langfuse(model: str, usage: dict[str, int]) -> dict[str, Any]:
    return row_of({"langfuse.observation.type": "generation", "langfuse.observation.model.name": model,
                   "langfuse.observation.usage_details": json.dumps(usage)}, scope="langfuse-sdk")


def test_langfuse_openai_details_are_all_left_out_of_input_and_output() -> None:
    """Langfuse's OpenAI integration subtracts every `input_*` / `output_*` detail from input / output."""
    usage = {"input": 150, "input_cached_tokens": 0, "input_audio_tokens": 600, "output": 20,
             "output_reasoning_tokens": 0, "output_audio_tokens": 400, "output_accepted_prediction_tokens": 0,
             "output_rejected_prediction_tokens": 0, "total": 1170}
    assert tokens(langfuse("gpt-4o-audio-preview", usage)) == (750, 420, 0, 0, 0, 1170, 600, 400)
    reasoning = {"input": 100, "input_cached_tokens": 1280, "output": 40, "output_reasoning_tokens": 20, "total": 1440}
    assert tokens(langfuse("o4-mini", reasoning)) == (1380, 60, 1280, 0, 20, 1440, 0, 0)


def test_langfuse_without_input_has_its_details_as_the_whole() -> None:
    """Langfuse's OpenAI integration drops `input` (and `output`) when the details hold all of it."""
    usage = {"input_cached_tokens": 1000, "output_reasoning_tokens": 30, "total": 1030}
    assert tokens(langfuse("o4-mini", usage)) == (1000, 30, 1000, 0, 30, 1030, 0, 0)


def test_langfuse_cached_input_key() -> None:
    assert tokens(langfuse("gpt-4.1", {"input": 100, "cached_input": 900, "output": 10}))[:3] == (1000, 10, 900)


def test_flat_langfuse_usage_names_are_parts_of_an_inclusive_input() -> None:
    """The flat names Langfuse reads, as LiveKit Agents sends them on a realtime model's span."""
    model = "gpt-4o-mini-realtime-preview"
    row = priced(row_of({
        "gen_ai.provider.name": "openai", "gen_ai.request.model": model, "gen_ai.usage.input_tokens": 1500,
        "gen_ai.usage.output_tokens": 500, "gen_ai.usage.input_cached_tokens": 200,
        "gen_ai.usage.input_cache_creation": 0, "gen_ai.usage.input_audio_tokens": 1000,
        "gen_ai.usage.input_text_tokens": 500, "gen_ai.usage.output_audio_tokens": 400,
        "gen_ai.usage.output_text_tokens": 100,
    }, scope="livekit-agents", name="llm_request_run"))
    assert tokens(row) == (1500, 500, 200, 0, 0, 2000, 1000, 400)
    assert row[f.COST_TOTAL] == list_total(model, "openai", input_tokens=1500, output_tokens=500,
                                           cache_read_tokens=200, input_audio_tokens=1000,
                                           output_audio_tokens=400, cache_audio_read_tokens=0)
    assert row[f.COST_OUTPUT_AUDIO] > 20 * row[f.COST_OUTPUT]  # 400 audio at $20/M against 100 text at $2.4/M


def test_gemini_audio_details_inside_vercel_provider_metadata_and_genkit_output() -> None:
    usage = {"promptTokenCount": 900, "candidatesTokenCount": 40, "totalTokenCount": 940,
             "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 300}, {"modality": "AUDIO", "tokenCount": 600}]}
    vercel = row_of({"ai.operationId": "ai.generateText.doGenerate", "ai.model.id": "gemini-2.0-flash",
                     "ai.model.provider": "google.generative-ai", "ai.usage.promptTokens": 900,
                     "ai.usage.completionTokens": 40,
                     "ai.response.providerMetadata": json.dumps({"google": {"usageMetadata": usage}})}, scope="ai")
    output = json.loads(GENKIT_MODEL_SPAN["genkit:output"])
    output["custom"]["usageMetadata"] = usage
    genkit = row_of({**GENKIT_MODEL_SPAN, "genkit:output": json.dumps(output)}, scope="genkit-tracer")
    assert priced(vercel)[f.INPUT_AUDIO_TOKENS] == genkit[f.INPUT_AUDIO_TOKENS] == 600
    assert vercel[f.COST_INPUT_AUDIO] > 0  # Gemini 2.0 Flash lists an audio input rate


def test_openinference_audio_details_without_an_audio_rate_are_priced_as_text() -> None:
    row = priced(row_of({"openinference.span.kind": "LLM", "llm.model_name": "gpt-4o-mini", "llm.provider": "openai",
                         "llm.token_count.prompt": 1000, "llm.token_count.completion": 50,
                         "llm.token_count.prompt_details.audio": 300,
                         "llm.token_count.completion_details.audio": 20}))
    assert tokens(row)[-2:] == (300, 20)
    assert (row[f.COST_INPUT_AUDIO], row[f.COST_OUTPUT_AUDIO]) == (0, 0)
    assert row[f.COST_TOTAL] == list_total("gpt-4o-mini", "openai", input_tokens=1000, output_tokens=50)
