"""The hot-path modules mypyc compiles (pyproject.toml [tool.llmpulse] compiled) against their source.

The install compiles them; the Python source is the reference. Both must make the same rows of
the same spans: the corpus real libraries sent, and seeded random spans that put odd values
(wrong types, bad JSON, every message shape) under the attribute names the convention table
reads, where a compiled module's run-time type checks would raise if an annotation lied.
"""

from __future__ import annotations

import json
import math
import pickle
import random
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from collector.decode import decode_logs, decode_traces
from collector.transport import decompress_body
from schemas import conventions as cv
from schemas import message_carriers as mc
from schemas.records import RawLogRecord, RawSpan, SpanEvent, SpanLink
from tests.corpus import corpus_available, iter_payload_records, labels
from tests.interpreted import ROOT, compiled_modules, make_rows

LIMIT = 64 << 20
# As plain dicts: each process builds PriceOverride from its own (compiled or interpreted) module.
OVERRIDES = [
    {"project_id": "acme", "model_pattern": "ft:gpt-4o*", "input_per_mtok": Decimal("7.5"),
     "output_per_mtok": Decimal("30"), "cache_read_per_mtok": Decimal("3.75")},
    {"project_id": "acme", "model_pattern": "claude-*", "provider": "anthropic", "input_per_mtok": Decimal("2"),
     "output_per_mtok": Decimal("9"), "valid_from": datetime(2020, 1, 1, tzinfo=UTC)},
]
_MESSAGES = [
    [{"role": "user", "parts": [{"type": "text", "content": "What is the refund policy?"}]}],
    [{"role": "assistant", "finish_reason": "tool_call", "parts": [
        {"type": "tool_call", "id": "c1", "name": "search", "arguments": {"q": "refunds"}},
        {"type": "reasoning", "content": "hidden"}, {"type": "image", "uri": "x"}]}],
    [{"role": "tool", "parts": [{"type": "tool_call_response", "id": "c1", "response": {"hits": 3}}]}],
    [{"role": "user", "content": "hi"}, {"role": "assistant", "content": None,
                                          "tool_calls": [{"id": "t", "function": {"name": "f", "arguments": "{}"}}]}],
    {"choices": [{"message": {"role": "assistant", "content": "done"}, "finish_reason": "stop"}]},
    {"system": "be brief", "messages": [{"role": "user", "content": [{"type": "text", "text": "q"}]}]},
    {"prompt": "plain prompt"}, "just text", [{"role": 5, "parts": "nope"}], [None, 3, {"type": "text"}], {},
]
_ODD = [None, 0, -1, 7, 2**40, 2**70, 3.5, -0.0, math.nan, math.inf, True, False, "", "  ", "12", "1e3", "-4",
        "gpt-4o", "ft:gpt-4o-2024-08-06:acme::x1", "claude-sonnet-4-5", "openai", "anthropic", "Anthropic.Messages",
        '"quoted"', "[1,2]", "{bad", "null", ["stop"],
        [1, "a"], {"a": 1}, '{"input": 10, "output": 5, "cache_read_input_tokens": 3}', '{"model": "gpt-4o-mini"}',
        "2026-11-23T09:45:39.974101Z", "1795427139974101000"]


def _keys() -> list[str]:
    keys = {source.key for sources in cv.FIELD_SOURCES.values() for source in sources}
    keys |= {key for _, key in mc.INPUT_CARRIERS + mc.OUTPUT_CARRIERS} | {mc.SYSTEM_INSTRUCTIONS, cv.RETRIEVAL_JSON}
    keys |= {key for key, _ in cv.SPAN_TYPE_SOURCES} | {key for _, keys in cv.MARKER_KEYS for key in keys}
    keys |= {"gen_ai.prompt.0.role", "gen_ai.prompt.0.content", "llm.output_messages.0.message.content",
             "retrieval.documents.0.document.content", "retrieval.documents.0.document.id", cv.SDK_NAME_KEY}
    return sorted(keys)


KEYS = _keys()


def _value(rng: random.Random, key: str) -> Any:
    roll = rng.random()
    if roll < 0.25 and ("messages" in key or "value" in key or "prompt" in key or "completion" in key):
        return json.dumps(rng.choice(_MESSAGES)) if rng.random() < 0.7 else rng.choice(_MESSAGES)
    if roll < 0.35 and key in dict(cv.SPAN_TYPE_SOURCES):
        return rng.choice([*dict(cv.SPAN_TYPE_SOURCES)[key], "LLM ", "unknown-kind"])
    return rng.choice(_ODD)


def _event(rng: random.Random) -> SpanEvent:
    name = rng.choice([*mc.MESSAGE_EVENTS, *mc.CONTENT_EVENTS, *cv.FIRST_TOKEN_EVENTS, cv.EXCEPTION_EVENT,
                       mc.OPERATION_DETAILS_EVENT, "other"])
    attrs = {rng.choice([mc.EVENT_CONTENT, "gen_ai.prompt", "gen_ai.completion", cv.EXCEPTION_TYPE, mc.PARTS_INPUT,
                         mc.PARTS_OUTPUT, "content"]): _value(rng, "messages") for _ in range(rng.randint(0, 3))}
    return SpanEvent(name, rng.choice([0, 1, 10**18, rng.getrandbits(62)]), attrs)


def _random_span(rng: random.Random) -> RawSpan:
    attrs = {key: _value(rng, key) for key in rng.sample(KEYS, rng.randint(0, 14))}
    start = rng.choice([0, None, -5, rng.getrandbits(61)])
    end = rng.choice([0, None, (start or 0) + rng.randint(-10, 10**10)])
    scope = rng.choice(["", "openinference.instrumentation.openai", "openlit.otel.tracing", "ai", "langfuse-sdk",
                        "opentelemetry.instrumentation.openai.v2", None])
    resource = rng.choice([{}, {"service.name": "app", "deployment.environment": "prod"}, {"service.name": 3}, None])
    return RawSpan(
        rng.choice(["ab" * 16, None]), rng.choice(["cd" * 8, 5]), rng.choice(["", "ef" * 8, None]),
        rng.choice(["chat gpt-4o", "ai.streamText", "", None, 7]), rng.choice([0, 1, 3, 99, "2", None]),
        start, end, rng.choice([0, 1, 2, 7, "2", None]), rng.choice(["", "boom", None]),
        attrs if rng.random() < 0.97 else "not a dict", resource, scope, rng.choice(["", "1.0", None]),
        tuple(_event(rng) for _ in range(rng.randint(0, 3))),
        tuple(SpanLink("ab" * 16, "cd" * 8, {"k": rng.choice(_ODD)}) for _ in range(rng.randint(0, 1))),
    )


def _corpus() -> tuple[list[RawSpan], list[RawLogRecord]]:
    spans: list[RawSpan] = []
    records: list[RawLogRecord] = []
    if not corpus_available():
        return spans, records
    for label in labels():
        for payload in iter_payload_records(label, "traces"):
            spans += decode_traces(decompress_body(payload.body, payload.content_encoding, LIMIT),
                                   payload.content_type).spans
        for payload in iter_payload_records(label, "logs"):
            records += decode_logs(decompress_body(payload.body, payload.content_encoding, LIMIT),
                                   payload.content_type).records
    return spans, records


def _compiled_rows(project: str, spans: list[RawSpan], records: list[RawLogRecord]) -> Any:
    return make_rows(project, spans, records, OVERRIDES)


def _interpreted_rows(project: str, spans: list[RawSpan], records: list[RawLogRecord]) -> Any:
    done = subprocess.run(
        [sys.executable, "-m", "tests.interpreted"], input=pickle.dumps((project, spans, records, OVERRIDES)),
        capture_output=True, cwd=ROOT, timeout=240, check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    return pickle.loads(done.stdout)


def _comparable(value: Any) -> Any:
    """NaN != NaN; everything else compares as it is."""
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if isinstance(value, dict):
        return {k: _comparable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_comparable(v) for v in value]
    return value


def test_the_install_compiled_every_listed_module() -> None:
    for name, source in compiled_modules().items():
        module = sys.modules.get(name) or __import__(name, fromlist=["_"])
        assert module.__file__ is not None and not module.__file__.endswith(".py"), (
            f"{name} runs from {module.__file__}, not compiled: reinstall (scripts/test.sh does it)")
        assert source.exists()


@pytest.mark.parametrize("project", ["acme", "default"])
def test_compiled_and_interpreted_modules_make_the_same_rows(project: str) -> None:
    corpus_spans, records = _corpus()
    spans = corpus_spans + [_random_span(random.Random(seed)) for seed in range(1500)]
    compiled = _compiled_rows(project, spans, records)
    interpreted = _interpreted_rows(project, spans, records)
    assert len(compiled[0]) == len(spans)
    for got, expected in zip(compiled[0], interpreted[0], strict=True):
        assert _comparable(got) == _comparable(expected)
    assert _comparable(compiled[1]) == _comparable(interpreted[1])
    assert _comparable(compiled[2]) == _comparable(interpreted[2])
    priced = {row["cost_source"] for row in compiled[0]}
    assert {"list_price", "unpriced"} <= priced and (project != "acme" or "override" in priced)
