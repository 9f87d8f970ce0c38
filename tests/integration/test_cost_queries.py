"""Spend per group (schemas.clickhouse.cost_queries) on the real engine: it agrees with the window totals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from schemas.clickhouse.cost_queries import COST_METRICS, cost_by_group, unpriced_models
from schemas.clickhouse.metrics import SeriesQuery, window_values
from schemas.clickhouse.rollup import rollup_span
from schemas.metadata.runs import StateStore
from tests.conftest import Running, run_detectors
from tests.integration.test_metrics_detector import hours_ago
from tests.spans import Call


def test_spend_per_group_adds_up_to_the_window_and_lists_unpriced_models(running: Running) -> None:
    running.send_calls(
        Call(1, 1, start_ns=hours_ago(2), model="gpt-4o", tags=("a", "b")),
        Call(2, 1, start_ns=hours_ago(2), model="gpt-4o-mini", tags=("a",)),
        Call(3, 1, model="gpt-4o-mini"),  # the newest minutes come from raw calls
        Call(4, 1, model="acme-private-llm"), Call(5, 1, model="acme-private-llm"))
    run_detectors(running, "metrics")
    store, rollup = running.service.store, rollup_span(StateStore(running.service.metadata))
    end = datetime.now(UTC) + timedelta(minutes=1)
    query = SeriesQuery("default", COST_METRICS, end - timedelta(hours=6), end, group_by="model")
    rows = cost_by_group(store, query, rollup)
    total = window_values(store, SeriesQuery("default", COST_METRICS, query.start, end), rollup)
    assert [r["key"] for r in rows] == ["gpt-4o", "gpt-4o-mini", "acme-private-llm"]  # costliest first
    assert sum(r["cost_total"] for r in rows) == pytest.approx(total["cost_total"])
    assert {r["key"]: (r["requests"], r["unpriced_requests"]) for r in rows}["gpt-4o-mini"] == (2, 0)
    tags = {r["key"]: r["requests"] for r in cost_by_group(store, SeriesQuery(
        "default", COST_METRICS, query.start, end, group_by="tag"), rollup)}
    assert tags == {"a": 2, "b": 1, "": 3}  # a call with two tags counts under each
    unpriced = unpriced_models(store, query, rollup)
    assert [(r["key"], r["unpriced_requests"], r["requests"]) for r in unpriced] == [("acme-private-llm", 2, 2)]
