"""Every corpus run's metrics requests, posted as the libraries sent them, stored and read back:
each metric's points as the corpus' own OTLP/JSON rendering shows them, tokens and requests as
the histograms in the last (cumulative) export say."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from collector.metric_points import is_kept_metric
from tests import corpus
from tests.conftest import Running

pytestmark = corpus.needs_corpus

# openai-v2 2.3b0 records no token usage for the streamed call (7 token points, none for it: 24
# output tokens short of the ledger); its payloads are still read exactly as sent.
NO_STREAMED_TOKENS = ("otel-openai-v2-2.3b0",)
LABELS = [label for label in (corpus.labels() if corpus.corpus_available() else [])
          if corpus.payload_files(label, "metrics")]


def post_metrics(running: Running, label: str) -> list[dict[str, Any]]:
    """Posts the run's metrics requests; returns their decoded.json documents."""
    documents = []
    for payload in corpus.iter_payload_records(label, "metrics"):
        headers = {"Content-Type": payload.content_type}
        if payload.content_encoding:
            headers["Content-Encoding"] = payload.content_encoding
        response = running.post_otlp("/v1/metrics", payload.body, headers)
        assert response.status_code == 200, (payload.path, response.text[:300])
        documents.append(json.loads(payload.decoded_json_path.read_text()))
    running.flush()
    return documents


def data_points(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(metric["name"], point)
            for rm in document["resourceMetrics"] for sm in rm["scopeMetrics"] for metric in sm["metrics"]
            for data in metric.values() if isinstance(data, dict) for point in data.get("dataPoints", [])]


def token_sums(document: dict[str, Any]) -> dict[str, float]:
    sums: Counter[str] = Counter()
    for name, point in data_points(document):
        if name == "gen_ai.client.token.usage":
            kind = next(a["value"]["stringValue"] for a in point["attributes"] if a["key"] == "gen_ai.token.type")
            sums[kind] += point["sum"]
    return dict(sums)


@pytest.mark.parametrize("label", LABELS)
def test_run_metrics_are_stored_and_read_as_the_payload_says(running: Running, label: str) -> None:
    documents = post_metrics(running, label)
    answer = running.get("/api/v1/metrics/otel", bucket="day", **{"from": "2026-11-01", "to": "2026-12-01"}).json()

    sent = Counter(name for document in documents for name, _ in data_points(document) if is_kept_metric(name))
    assert {m["name"]: m["points"] for m in answer["metrics"]} == dict(sent)
    last = documents[-1]  # cumulative: the last export holds every observation of the run
    assert answer["total"]["tokens"] == pytest.approx(token_sums(last))
    requests = sum(int(p["count"]) for name, p in data_points(last) if name == "gen_ai.client.operation.duration")
    assert answer["total"]["requests"] == requests
    durations = [p for name, p in data_points(last) if name == "gen_ai.client.operation.duration"]
    fastest, slowest = min(p["min"] for p in durations) * 1000, max(p["max"] for p in durations) * 1000
    quantiles = answer["total"]["duration_ms"]
    assert fastest <= quantiles["p50"] <= quantiles["p95"] <= quantiles["p99"] <= slowest  # seconds → ms
    truth = corpus.ground_truth(label)["totals"]
    if not label.startswith(NO_STREAMED_TOKENS):
        assert answer["total"]["tokens"]["output"] == truth["output_tokens"]


def test_openlit_cost_and_ttft_come_from_its_metrics(running: Running) -> None:
    documents = post_metrics(running, "openlit-openai")
    total = running.get("/api/v1/metrics/otel", bucket="day", **{"from": "2026-11-01", "to": "2026-12-01"}).json()
    cost = sum(p["sum"] for name, p in data_points(documents[-1]) if name == "gen_ai.usage.cost")
    assert total["total"]["cost"] == pytest.approx(cost) and cost > 0
    assert total["total"]["ttft_ms"]["p50"] is not None
    assert "http.client.duration" not in {m["name"] for m in total["metrics"]}  # skipped, not stored
