"""Cost through the whole ingest path: list price, project override, reported cost, unpriced."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from tests.conftest import Running
from tests.integration.test_ingest_edge import chat_span, export_body


def priced_call(running: Running, trace: int, model: str, **extra: object) -> dict:
    span = chat_span(trace, 1, model=model)
    for key, value in extra.items():
        any_value = AnyValue(double_value=value) if isinstance(value, float) else AnyValue(string_value=str(value))
        span.attributes.append(KeyValue(key=key, value=any_value))
    running.send(export_body(span))
    spans = running.get(f"/api/v1/traces/{trace:032x}").json()["spans"]
    return spans[0]


def test_list_price_override_reported_and_unpriced(running: Running) -> None:
    listed = priced_call(running, 1, "gpt-4o-mini")  # 100 in, 10 out at $0.15 / $0.60 per M
    assert listed["cost_source"] == "list_price"
    assert Decimal(str(listed["cost_total"])) == Decimal("0.000021")

    running.service.metadata.add_price_override(
        "default", "gpt-4o-mini*", Decimal("1"), Decimal("2"), datetime.now(UTC) - timedelta(hours=1))
    running.service.pipeline.prices.refresh()
    overridden = priced_call(running, 2, "gpt-4o-mini")
    assert overridden["cost_source"] == "override"
    assert Decimal(str(overridden["cost_total"])) == Decimal("0.00012")  # 100 * $1/M + 10 * $2/M

    reported = priced_call(running, 3, "acme-private-llm", **{"gen_ai.usage.cost": 0.0042})
    assert reported["cost_source"] == "reported" and reported["cost_total"] == 0.0042

    unpriced = priced_call(running, 4, "acme-private-llm")
    assert unpriced["cost_source"] == "unpriced" and unpriced["cost_total"] is None

    total = running.get("/api/v1/metrics/summary").json()["total"]
    assert total["cost"]["unpriced_requests"] == 1
    assert Decimal(total["cost"]["total_exact"]) == Decimal("0.000021") + Decimal("0.00012") + Decimal("0.0042")


def test_per_request_fee_is_stored_as_its_own_part(running: Running) -> None:
    span = chat_span(5, 1, model="sonar")
    for attribute in span.attributes:
        if attribute.key == "gen_ai.provider.name":
            attribute.value.string_value = "perplexity"
    running.send(export_body(span))
    (call,) = running.get(f"/api/v1/traces/{5:032x}").json()["spans"]
    parts = [Decimal(str(call[name])) for name in ("cost_input", "cost_output", "cost_request")]
    assert parts[2] > parts[0] + parts[1]  # sonar's fee per request outweighs 110 tokens
    assert Decimal(str(call["cost_total"])) == sum(parts) and call["cost_cache_read"] == 0


def test_migration_adds_the_request_fee_to_an_existing_spans_table(running: Running) -> None:
    store = running.service.store
    listed = priced_call(running, 6, "gpt-4o-mini")
    store.client.command(f"ALTER TABLE {store.table('spans')} DROP COLUMN cost_request")  # as before 0005
    store.client.command(f"DELETE FROM {store.table('schema_migrations')} WHERE version = 5")
    assert store.migrate() == ["0005_cost_request.sql"]
    assert store.migrate() == []
    again = running.get(f"/api/v1/traces/{6:032x}").json()["spans"][0]
    assert again["cost_request"] is None and again["cost_total"] == listed["cost_total"]
    assert priced_call(running, 7, "gpt-4o-mini")["cost_request"] == 0
