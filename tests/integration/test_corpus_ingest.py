"""Every recorded corpus run, posted over HTTP exactly as the real libraries sent it (same body,
Content-Type and Content-Encoding, traces, logs and metrics), must come out of the read API
with the calls, errors, tokens, cached tokens, TTFT and cost of the fake provider's ledger."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests import corpus
from tests.conftest import Running

pytestmark = corpus.needs_corpus

LABELS = corpus.labels() if corpus.corpus_available() else []
PATHS = {"traces": "/v1/traces", "logs": "/v1/logs", "metrics": "/v1/metrics"}
# gpt-4.1-mini: cached input costs $0.10/M instead of $0.40/M. Runs that lose the cached count
# (the MANIFEST: openai-v2 on chat completions) are priced as if all 1280 were uncached.
LOST_CACHE_SURCHARGE = Decimal(1280) * (Decimal("0.40") - Decimal("0.10")) / Decimal(1_000_000)
NO_TTFT = ("otel-openai-v2",)  # openai-v2 records no TTFT at all (MANIFEST)
# Langfuse's SDK sends one model name, the served one (MANIFEST); the requested one is unknown.
ONLY_RESPONSE_MODEL = ("langfuse-openai",)


def post_run(running: Running, label: str) -> None:
    for signal, path in PATHS.items():
        for payload in corpus.iter_payload_records(label, signal):
            headers = {"Content-Type": payload.content_type}
            if payload.content_encoding:
                headers["Content-Encoding"] = payload.content_encoding
            response = running.post_otlp(path, payload.body, headers)
            assert response.status_code == 200, (payload.path, response.text[:300])
    running.flush()


def recovered_cache_reads(label: str) -> int:
    return sum(scope["cache_read"] for scope in corpus.ground_truth(label)["recovered_from_spans"].values())


@pytest.mark.parametrize("label", LABELS)
def test_run_matches_ground_truth(running: Running, label: str) -> None:
    post_run(running, label)
    truth = corpus.ground_truth(label)["totals"]
    total = running.get("/api/v1/metrics/summary", **{"from": "0"}).json()["total"]

    assert total["requests"] == truth["calls"]
    assert total["errors"] == truth["errors"]
    assert total["input_tokens"] == truth["input_tokens_incl_cache"]
    assert total["output_tokens"] == truth["output_tokens"]
    assert total["cache_read_tokens"] == recovered_cache_reads(label)
    assert total["cost"]["unpriced_requests"] == 0
    expected = Decimal(str(truth["reference_cost_usd"]))
    if recovered_cache_reads(label) == 0:
        expected += LOST_CACHE_SURCHARGE
    assert abs(Decimal(total["cost"]["total_exact"]) - expected) < Decimal("1e-9")
    if not label.startswith(NO_TTFT):
        assert total["ttft_ms"]["p50"] is not None and total["ttft_ms"]["p50"] > 0


@pytest.mark.parametrize("label", LABELS)
def test_run_models_per_call(running: Running, label: str) -> None:
    post_run(running, label)
    groups = running.get("/api/v1/metrics/summary", group_by="model", **{"from": "0"}).json()["groups"]
    got = {g["key"]["model"]: g["requests"] for g in groups}
    want: dict[str, int] = {}
    for call in corpus.ground_truth(label)["calls"]:
        model = call["request_model"]
        if label in ONLY_RESPONSE_MODEL:
            model = call["response_model"] or model
        want[model] = want.get(model, 0) + 1
    assert got == want
    by_response = running.get("/api/v1/metrics/summary", group_by="response_model", **{"from": "0"}).json()
    served = {g["key"]["response_model"] for g in by_response["groups"]}
    assert {c["response_model"] for c in corpus.ground_truth(label)["calls"] if c["response_model"]} <= served
    providers = running.get("/api/v1/metrics/summary", group_by="provider", **{"from": "0"}).json()["groups"]
    assert [g["key"]["provider"] for g in providers] == ["openai"]


@pytest.mark.parametrize("label", ["otel-openai-v2-2.3b0.content-true", "otel-openai-v2.content-span_and_event"])
def test_messages_sent_as_log_records_are_attached_to_their_span(running: Running, label: str) -> None:
    post_run(running, label)
    traces = running.get("/api/v1/traces", **{"from": "0", "text": "capital of France"}).json()["traces"]
    assert traces, "the question must be searchable"
    spans = running.get(f"/api/v1/traces/{traces[0]['trace_id']}").json()["spans"]
    chats = [s for s in spans if s["span_type"] == "llm" and s["log_events"]]
    assert chats, "log-record events must be attached to their chat span"
    questions = [m["content"] for s in chats for m in s["input_messages"]]
    assert any("capital of France" in q for q in questions)
    answers = [m["content"] for s in chats for m in s["output_messages"]]
    assert any("Paris" in a for a in answers)
