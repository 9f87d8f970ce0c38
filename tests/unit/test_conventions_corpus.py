"""Each corpus run, normalized, recovers the calls the fake LLM server answered (ground_truth.json).

One parametrized case per run label of the OTLP corpus (tests/corpus.py). Where MANIFEST.md says an
instrumentation loses information, the test asserts what the payload really carries and says so.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import cache
from typing import Any

import pytest

from collector.decode import decode_logs, decode_traces
from collector.normalize import extract_log_messages, normalize_span
from collector.transport import decompress_body
from schemas import fields as f
from tests.corpus import corpus_available, ground_truth, iter_payloads, labels, needs_corpus

LIMIT = 64 << 20
pytestmark = needs_corpus
RUNS = labels() if corpus_available() else []

CONVENTION_OF_RUN = {
    "langfuse": "langfuse", "openinference": "openinference", "openlit": "openlit",
    "openllmetry": "openllmetry", "otel-openai-v2": "otel_genai",
}
# Runs whose spans carry chat content (span attributes or span events).
CONTENT_IN_SPANS = {
    "langfuse-openai", "openinference-openai", "openlit-openai", "openllmetry-openai",
    "otel-openai-v2.content-span_and_event", "otel-openai-v2.gzip", "otel-openai-v2.json",
}
# Runs whose content arrives only as OTLP log records (openai-v2 2.3b0 with capture on).
CONTENT_IN_LOGS = {"otel-openai-v2-2.3b0.content-true", "otel-openai-v2.content-span_and_event"}


@cache
def rows_of(label: str) -> tuple[dict[str, Any], ...]:
    rows = []
    for body, content_type, encoding in iter_payloads(label):
        decoded = decode_traces(decompress_body(body, encoding, LIMIT), content_type)
        assert decoded.rejected == 0
        rows += [normalize_span(span, "corpus") for span in decoded.spans]
    return tuple(rows)


def calls_of(label: str) -> list[dict[str, Any]]:
    """LLM and embedding calls, each counted once (same trace + call key = one call), in call order."""
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows_of(label):
        if row[f.IS_CALL]:
            seen.setdefault((row[f.TRACE_ID], row[f.CALL_KEY]), row)
    return sorted(seen.values(), key=lambda row: row[f.START_TIME])


def truth_of(label: str) -> list[dict[str, Any]]:
    return sorted(ground_truth(label)["calls"], key=lambda call: call["ts"])


def paired(label: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    calls, truth = calls_of(label), truth_of(label)
    assert len(calls) == len(truth)
    return list(zip(calls, truth, strict=True))


def loses_cached_tokens(label: str) -> bool:
    """MANIFEST: opentelemetry-instrumentation-openai-v2 (2.3b0 and 2.4b0) drops OpenAI's
    `prompt_tokens_details.cached_tokens` on chat completions."""
    return label.startswith("otel-openai-v2")


@pytest.mark.parametrize("label", RUNS)
def test_every_row_has_every_column_with_its_type(label: str) -> None:
    for row in rows_of(label):
        assert set(row) == set(f.SPAN_COLUMNS)
        assert row[f.START_TIME].tzinfo is dt.UTC and row[f.END_TIME] >= row[f.START_TIME]
        assert all(type(row[name]) is int for name in f.TOKEN_FIELDS)
        assert all(type(k) is str and type(v) is str for k, v in row[f.ATTRIBUTES].items())
        assert row[f.COST_REPORTED] is None or isinstance(row[f.COST_REPORTED], Decimal)
        assert all(row[name] is None for name in f.COST_FIELDS)


@pytest.mark.parametrize("label", RUNS)
def test_counts_each_call_once(label: str) -> None:
    """OpenLIT adds an httpx CLIENT child per call and Langfuse exports app spans as observations:
    neither may count as a call."""
    totals = ground_truth(label)["totals"]
    calls = calls_of(label)
    assert len(calls) == totals["calls"] == 8
    assert sum(row[f.SPAN_TYPE] == f.TYPE_EMBEDDING for row in calls) == totals["embedding_calls"]
    assert sum(row[f.STATUS_CODE] == "error" for row in calls) == totals["errors"] == 1
    assert len({row[f.CALL_KEY] for row in calls}) == len(calls)
    convention = next(c for prefix, c in CONVENTION_OF_RUN.items() if label.startswith(prefix))
    assert {row[f.CONVENTION] for row in calls} == {convention}


@pytest.mark.parametrize("label", RUNS)
def test_token_totals_match_ground_truth(label: str) -> None:
    totals = ground_truth(label)["totals"]
    calls = calls_of(label)
    assert sum(row[f.INPUT_TOKENS] for row in calls) == totals["input_tokens_incl_cache"] == 1758
    assert sum(row[f.OUTPUT_TOKENS] for row in calls) == totals["output_tokens"] == 131
    assert sum(row[f.CACHE_WRITE_TOKENS] for row in calls) == totals["cache_creation_tokens"] == 0
    cache_read = sum(row[f.CACHE_READ_TOKENS] for row in calls)
    if loses_cached_tokens(label):
        assert cache_read == 0  # what the payload carries: the 1280 cached tokens are not in it
    else:
        assert cache_read == totals["cached_tokens"] == 1280


@pytest.mark.parametrize("label", RUNS)
def test_per_call_models_tokens_and_errors(label: str) -> None:
    for row, call in paired(label):
        assert row[f.PROVIDER] == "openai"
        assert (row[f.INPUT_TOKENS], row[f.OUTPUT_TOKENS]) == (call["prompt_tokens"], call["completion_tokens"])
        assert (row[f.STATUS_CODE] == "error") == (call["status"] != 200)
        if label.startswith("langfuse"):
            # Langfuse records one model name: the served one, or the requested one when the call
            # failed, which served nothing.
            named = call["response_model"] or call["request_model"]
            assert (row[f.REQUEST_MODEL], row[f.RESPONSE_MODEL]) == (named, call["response_model"] or "")
        else:
            assert row[f.REQUEST_MODEL] == call["request_model"]
            assert row[f.RESPONSE_MODEL] == (call["response_model"] or "")


@pytest.mark.parametrize("label", RUNS)
def test_error_type_where_emitted(label: str) -> None:
    (failed,) = [row for row in calls_of(label) if row[f.STATUS_CODE] == "error"]
    if label.startswith("langfuse"):
        assert failed[f.ERROR_TYPE] == ""  # only `langfuse.observation.level` = ERROR + a status message
        assert "429" in failed[f.STATUS_MESSAGE]
    elif label.startswith("openinference"):
        assert failed[f.ERROR_TYPE] == "openai.RateLimitError"  # from the `exception` span event
    else:
        assert failed[f.ERROR_TYPE] == "RateLimitError"


@pytest.mark.parametrize("label", RUNS)
def test_ttft_and_streaming_where_the_instrumentation_emits_them(label: str) -> None:
    for row, call in paired(label):
        if not call["stream"]:
            # OpenLIT's `gen_ai.server.time_to_first_token` on non-streamed calls is the whole latency.
            assert row[f.TTFT_MS] is None and row[f.STREAMING] is False
        elif label.startswith("otel-openai-v2"):
            # openai-v2 sends neither a stream flag nor a TTFT: the streamed call looks unstreamed.
            assert row[f.TTFT_MS] is None and row[f.STREAMING] is False
        else:
            assert row[f.STREAMING] is True
            assert 0 < row[f.TTFT_MS] < row[f.DURATION_MS]


@pytest.mark.parametrize("label", RUNS)
def test_reported_cost_only_where_emitted(label: str) -> None:
    reported = [row[f.COST_REPORTED] for row in calls_of(label)]
    if label.startswith("openlit"):
        assert len([c for c in reported if c is not None]) == 7  # every call but the failed one
        total = sum(c for c in reported if c is not None)
        assert abs(total - Decimal("0.001010")) < Decimal("0.0000005")
        assert abs(float(total) - ground_truth(label)["totals"]["reference_cost_usd"]) < 1e-9
    else:
        assert reported == [None] * len(reported)  # Langfuse's all-zero cost_details is no reported cost


@pytest.mark.parametrize("label", RUNS)
def test_finish_reasons(label: str) -> None:
    for row, call in paired(label):
        expected = [call["finish_reason"]] if call.get("finish_reason") else []
        if label.startswith("openllmetry"):
            expected = ["tool_call" if r == "tool_calls" else r for r in expected]  # its own normalization
        if label.startswith("langfuse") and not call["stream"]:
            expected = []  # Langfuse keeps a finish reason only for the streamed call
        if call["stream"] and label.startswith("otel-openai-v2") and label not in CONTENT_IN_SPANS:
            expected = []  # openai-v2 sends none for the streamed call; with content, output messages have it
        assert row[f.FINISH_REASONS] == expected


@pytest.mark.parametrize("label", RUNS)
def test_span_content_where_captured(label: str) -> None:
    chat = next(row for row, call in paired(label) if call["step"] == "chat_simple")
    if label in CONTENT_IN_SPANS:
        assert "What is the capital of France?" in chat[f.INPUT_MESSAGES]
        assert "The capital of France is Paris." in chat[f.OUTPUT_MESSAGES]
    else:
        assert chat[f.INPUT_MESSAGES] == chat[f.OUTPUT_MESSAGES] == ""


@pytest.mark.parametrize("label", sorted(CONTENT_IN_LOGS))
def test_content_sent_as_log_records(label: str) -> None:
    records = []
    for body, content_type, encoding in iter_payloads(label, "logs"):
        records += decode_logs(decompress_body(body, encoding, LIMIT), content_type).records
    messages = extract_log_messages(records)
    chats = [row for row, call in paired(label) if call["endpoint"] == "chat.completions" and call["status"] == 200]
    for row in chats:
        found = messages[(row[f.TRACE_ID], row[f.SPAN_ID])]
        assert found["input"] and found["output"]
    simple = messages[(chats[0][f.TRACE_ID], chats[0][f.SPAN_ID])]
    assert simple["input"] == [{"role": "user", "content": "What is the capital of France?"}]
    assert simple["output"][0]["content"] == "The capital of France is Paris."
    assert simple["output"][0]["finish_reason"] == "stop"


@pytest.mark.parametrize("label", RUNS)
def test_user_and_session_where_carried(label: str) -> None:
    calls = calls_of(label)
    if label.startswith("otel-openai-v2"):
        assert {row[f.USER_ID] for row in calls} == {""}  # only the app's own root span has them
    else:
        assert {(row[f.USER_ID], row[f.SESSION_ID]) for row in calls} == {("user-42", "session-2026-11-23-001")}
    assert {row[f.ENVIRONMENT] for row in calls} == {"corpus"}
