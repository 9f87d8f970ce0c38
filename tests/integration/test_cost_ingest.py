"""Cost through the whole ingest path: list price, project override, reported cost, unpriced."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from tests.conftest import Running
from tests.integration.test_ingest_edge import PROTOBUF, chat_span, export_body


def priced_call(running: Running, trace: int, model: str, **extra: object) -> dict:
    span = chat_span(trace, 1, model=model)
    for key, value in extra.items():
        any_value = AnyValue(double_value=value) if isinstance(value, float) else AnyValue(string_value=str(value))
        span.attributes.append(KeyValue(key=key, value=any_value))
    assert running.post_otlp("/v1/traces", export_body(span), PROTOBUF).ok
    running.flush()
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
