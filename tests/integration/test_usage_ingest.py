"""Token parts through the whole ingest path: audio counted and priced apart (migration 0007), and a
Vercel AI SDK call on Bedrock made inclusive by the convention table and priced as Bedrock."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from collector.pricing import list_rates
from tests.conftest import Running
from tests.spans import Call, any_value, export_calls
from tests.unit.test_usage import VERCEL_BEDROCK

START_NS = 1_795_427_105_000_000_000  # 2026-11-23 09:45:05 UTC: calls at an explicit time
REALTIME = "gpt-4o-mini-realtime-preview"
COST_PARTS = ("cost_input", "cost_output", "cost_cache_read", "cost_cache_write", "cost_request",
              "cost_input_audio", "cost_output_audio")


def stored_call(running: Running, body: bytes, trace: int) -> dict[str, Any]:
    running.send(body)
    (call,) = running.get(f"/api/v1/traces/{trace:032x}").json()["spans"]
    return call


def audio_call(running: Running, trace: int) -> dict[str, Any]:
    call = Call(trace, model=REALTIME, start_ns=START_NS, input_tokens=1500, output_tokens=500, cache_read_tokens=200,
                extra={"gen_ai.usage.input_audio_tokens": 1000, "gen_ai.usage.output_audio_tokens": 400})
    return stored_call(running, export_calls(call), trace)


def test_audio_tokens_are_stored_and_priced_at_their_own_rate(running: Running) -> None:
    call = audio_call(running, 1)
    assert (call["input_tokens"], call["input_audio_tokens"], call["output_audio_tokens"]) == (1500, 1000, 400)
    rates = list_rates("openai", REALTIME, datetime.fromtimestamp(START_NS / 1e9, UTC), 1500)
    assert rates is not None and rates.output_audio is not None
    assert Decimal(str(call["cost_output_audio"])) == 400 * rates.output_audio / 1_000_000
    assert Decimal(str(call["cost_output"])) == 100 * rates.output / 1_000_000  # the text part only
    assert Decimal(str(call["cost_total"])) == sum(Decimal(str(call[name])) for name in COST_PARTS)


def test_migration_adds_the_audio_columns_to_an_existing_spans_table(running: Running) -> None:
    store = running.service.store
    before = audio_call(running, 2)
    for column in ("input_audio_tokens", "output_audio_tokens", "cost_input_audio", "cost_output_audio"):
        store.client.command(f"ALTER TABLE {store.table('spans')} DROP COLUMN {column}")  # as before 0007
    store.client.command(f"DELETE FROM {store.table('schema_migrations')} WHERE version = 7")
    assert store.migrate() == ["0007_audio_tokens.sql"]
    assert store.migrate() == []
    again = running.get(f"/api/v1/traces/{2:032x}").json()["spans"][0]
    assert (again["input_audio_tokens"], again["cost_input_audio"]) == (0, None)
    assert again["cost_total"] == before["cost_total"]
    assert audio_call(running, 3)["output_audio_tokens"] == 400


def test_vercel_bedrock_call_is_made_inclusive_and_priced_as_bedrock(running: Running) -> None:
    span = Span(trace_id=(4).to_bytes(16, "big"), span_id=(1).to_bytes(8, "big"), name="ai.generateText.doGenerate",
                start_time_unix_nano=START_NS, end_time_unix_nano=START_NS + 900_000_000, kind=Span.SPAN_KIND_CLIENT,
                attributes=[KeyValue(key=k, value=any_value(v)) for k, v in VERCEL_BEDROCK.items()])
    scope = ScopeSpans(scope=InstrumentationScope(name="ai"), spans=[span])
    body = ExportTraceServiceRequest(resource_spans=[ResourceSpans(scope_spans=[scope])]).SerializeToString()
    call = stored_call(running, body, 4)
    assert (call["convention"], call["provider"], call["cost_source"]) == ("vercel_ai", "aws.bedrock", "list_price")
    assert (call["input_tokens"], call["cache_read_tokens"], call["total_tokens"]) == (10216, 4482, 10394)
    rates = list_rates("aws.bedrock", VERCEL_BEDROCK["ai.model.id"], datetime.fromtimestamp(START_NS / 1e9, UTC))
    assert rates is not None
    assert Decimal(str(call["cost_input"])) == 5734 * rates.input / 1_000_000  # uncached input, priced once
