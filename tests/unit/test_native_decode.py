"""The native OTLP reader (collector/_otlp.c) against the reference decoder it must match.

Equality here is strict: same records, same value types, same attribute order (normalization
reads dicts in order), floats compared bit for bit, so a NaN or a -0.0 that changed would show.
Bodies come from the corpus real libraries sent, from seeded random spans that use every
AnyValue kind, and from random corruptions of both (which must never crash the process).
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

from collector import _otlp, check
from collector.check import check_traces
from collector.counts import COST_KEYS
from collector.decode import decode_checked_traces, decode_traces
from collector.errors import DecodeError
from collector.transport import PROTOBUF_CONTENT_TYPE
from tests.corpus import corpus_available, iter_payload_records, labels
from tests.shapes import shape
from tests.unit.test_decode import LIMIT, decompress_body

PROTOBUF = PROTOBUF_CONTENT_TYPE


def _native(body: bytes) -> Any:
    spans, rejected, reasons = _otlp.decode_traces(body)
    return shape((spans, rejected, reasons))


def _reference(body: bytes) -> Any:
    decoded = decode_traces(body, PROTOBUF)
    return shape((decoded.spans, decoded.rejected, decoded.reasons))


def _corpus_bodies() -> list[Any]:
    if not corpus_available():
        return []
    cases = []
    for label in labels():
        for payload in iter_payload_records(label, "traces"):
            checked = check_traces(decompress_body(payload.body, payload.content_encoding, LIMIT), payload.content_type)
            cases.append(pytest.param(checked.body, id=f"{label}/{payload.name}"))
    return cases


# --- random spans ------------------------------------------------------------------------------


def _any(rng: random.Random, depth: int = 0) -> AnyValue:
    kind = rng.choice(["s", "s", "b", "i", "d", "bytes", "none", "strindex"] + (["a", "kv"] if depth < 3 else []))
    if kind == "s":
        return AnyValue(string_value=rng.choice(["", "plain", "ünïcödé ✓", "quote\"d", "x" * rng.randint(0, 300)]))
    if kind == "b":
        return AnyValue(bool_value=rng.random() < 0.5)
    if kind == "i":
        return AnyValue(int_value=rng.choice([0, -1, 1, 2**63 - 1, -(2**63), rng.randint(-10**9, 10**9)]))
    if kind == "d":
        return AnyValue(double_value=rng.choice([0.0, -0.0, 0.1, 1e300, float("inf"), float("nan"), rng.random()]))
    if kind == "bytes":
        return AnyValue(bytes_value=bytes(rng.randrange(256) for _ in range(rng.randint(0, 7))))
    if kind == "strindex":
        return AnyValue(string_value_strindex=rng.randint(-5, 5))
    if kind == "a":
        return AnyValue(array_value=ArrayValue(values=[_any(rng, depth + 1) for _ in range(rng.randint(0, 4))]))
    if kind == "kv":
        return AnyValue(kvlist_value=KeyValueList(values=_kvs(rng, depth + 1)))
    return AnyValue()


def _kvs(rng: random.Random, depth: int = 0) -> list[KeyValue]:
    keys = ["gen_ai.request.model", "k", "", "dup", "dup", "ключ", "llm.token_count.prompt"]
    pairs = []
    for _ in range(rng.randint(0, 6)):
        pair = KeyValue(key=rng.choice(keys))
        if rng.random() < 0.9:
            pair.value.CopyFrom(_any(rng, depth))
        pairs.append(pair)
    return pairs


def _id(rng: random.Random, size: int) -> bytes:
    roll = rng.random()
    if roll < 0.03:
        return bytes(size)  # all zero: rejected
    if roll < 0.06:
        return bytes(rng.randrange(256) for _ in range(size - 1))  # wrong length: rejected
    return bytes(rng.randrange(1, 256) for _ in range(size))


def _random_span(rng: random.Random) -> Span:
    span = Span(
        trace_id=_id(rng, 16), span_id=_id(rng, 8), name=rng.choice(["chat gpt-4o", "", "ünï"]),
        kind=rng.choice([0, 1, 3, 7, -2]), start_time_unix_nano=rng.choice([0, 2**64 - 1, rng.getrandbits(62)]),
        end_time_unix_nano=rng.getrandbits(63), attributes=_kvs(rng), trace_state=rng.choice(["", "a=b"]),
    )
    if rng.random() < 0.5:
        span.parent_span_id = _id(rng, 8)
    if rng.random() < 0.5:
        span.status.CopyFrom(Status(code=rng.choice([0, 1, 2, 9]), message=rng.choice(["", "boom"])))
    for _ in range(rng.randint(0, 3)):
        span.events.add(name=rng.choice(["gen_ai.content.prompt", "exception", ""]),
                        time_unix_nano=rng.getrandbits(63), attributes=_kvs(rng))
    for _ in range(rng.randint(0, 2)):
        span.links.add(trace_id=bytes(rng.randrange(256) for _ in range(rng.choice([0, 16]))),
                       span_id=bytes(rng.randrange(256) for _ in range(8)), attributes=_kvs(rng))
    return span


def _random_request(rng: random.Random) -> bytes:
    request = ExportTraceServiceRequest()
    for _ in range(rng.randint(1, 3)):
        resource_spans = ResourceSpans(resource=Resource(attributes=_kvs(rng)))
        for _ in range(rng.randint(0, 3)):
            scope = InstrumentationScope(name=rng.choice(["", "openinference.instrumentation.openai"]),
                                         version=rng.choice(["", "1.2.3"]), attributes=_kvs(rng))
            resource_spans.scope_spans.append(
                ScopeSpans(scope=scope, spans=[_random_span(rng) for _ in range(rng.randint(0, 4))])
            )
        request.resource_spans.append(resource_spans)
    return request.SerializeToString()


RANDOM_BODIES = [_random_request(random.Random(seed)) for seed in range(300)]


# --- tests -------------------------------------------------------------------------------------


@pytest.mark.skipif(not corpus_available(), reason="shared/otlp-corpus not found")
@pytest.mark.parametrize("body", _corpus_bodies())
def test_corpus_bodies_decode_exactly_as_the_reference(body: bytes) -> None:
    assert _native(body) == _reference(body)


def test_random_spans_decode_exactly_as_the_reference() -> None:
    rejected = 0
    for body in RANDOM_BODIES:
        assert _native(body) == _reference(body)
        rejected += _otlp.decode_traces(body)[1]
    assert rejected > 0  # the seeds do cover refused ids and their reasons


def test_the_count_check_before_the_ack_says_what_the_reference_says(monkeypatch: pytest.MonkeyPatch) -> None:
    """check_traces finds suspect token counts with the C scan; without it, with upb (the reference)."""
    from tests.integration.test_extreme_numbers import body_of, random_span

    rng = random.Random(7)
    spans = [random_span(rng, n) for n in range(400)]
    for span in spans[200:]:  # costs alone: the reasons of counts would fill the five a response keeps
        kept = [kv for kv in span.attributes if kv.key in COST_KEYS]
        del span.attributes[:]
        span.attributes.extend(kept)
    bodies = RANDOM_BODIES + [body_of(*spans[at:at + 3]) for at in range(0, 400, 3)]
    native = [check_traces(body, PROTOBUF) for body in bodies]
    monkeypatch.setattr(check, "_otlp", None)
    assert native == [check_traces(body, PROTOBUF) for body in bodies]
    reasons = " ".join(" ".join(c.reasons) for c in native)
    assert reasons.count("is not a token count") > 50 and reasons.count("is not the cost of one call") > 10


def test_the_resource_is_shared_by_its_spans_wherever_it_stands_on_the_wire() -> None:
    spans = [Span(trace_id=bytes(range(1, 17)), span_id=bytes([i] * 8), name=f"s{i}") for i in (1, 2)]
    resource = Resource(attributes=[KeyValue(key="service.name", value=AnyValue(string_value="app"))])
    # field 2 (scope_spans) written before field 1 (resource): legal, and upb reads it the same
    scope_field = ScopeSpans(spans=spans).SerializeToString()
    resource_field = resource.SerializeToString()
    resource_spans = (b"\x12" + _varint(len(scope_field)) + scope_field
                      + b"\x0a" + _varint(len(resource_field)) + resource_field)
    body = b"\x0a" + _varint(len(resource_spans)) + resource_spans
    assert _native(body) == _reference(body)
    first, second = _otlp.decode_traces(body)[0]
    assert first.resource == {"service.name": "app"} and first.resource is second.resource


def test_a_repeated_message_value_merges_like_protobuf() -> None:
    part_one = AnyValue(array_value=ArrayValue(values=[AnyValue(int_value=1)])).SerializeToString()
    part_two = AnyValue(array_value=ArrayValue(values=[AnyValue(int_value=2)])).SerializeToString()
    value = part_one + part_two  # the array member twice: protobuf concatenates the values
    pair = b"\x0a\x01k\x12" + _varint(len(value)) + value
    span = Span(trace_id=bytes(range(1, 17)), span_id=bytes(range(1, 9))).SerializeToString() \
        + b"\x4a" + _varint(len(pair)) + pair
    body = _wrap_span(span)
    assert _native(body) == _reference(body)
    assert _otlp.decode_traces(body)[0][0].attributes == {"k": [1, 2]}


def test_what_the_native_reader_declines_is_read_by_the_reference() -> None:
    value = AnyValue(string_value="a").SerializeToString()
    twice = b"\x0a\x01k" + b"\x12" + _varint(len(value)) + value + b"\x12" + _varint(len(value)) + value
    span = Span(trace_id=bytes(range(1, 17)), span_id=bytes(range(1, 9))).SerializeToString() \
        + b"\x4a" + _varint(len(twice)) + twice
    body = _wrap_span(span)
    with pytest.raises(ValueError, match="declined"):
        _otlp.decode_traces(body)
    checked = check_traces(body, PROTOBUF)
    assert shape(decode_checked_traces(checked).spans) == shape(decode_traces(body, PROTOBUF).spans)
    assert decode_checked_traces(checked).spans[0].attributes == {"k": "a"}


def test_corrupted_bodies_are_declined_or_read_as_upb_reads_them() -> None:
    """Flipped and cut bytes: no crash; where upb still accepts the body, the same records."""
    rng = random.Random(7)
    agreed = declined = 0
    for body in RANDOM_BODIES[:120]:
        for _ in range(10):
            broken = bytearray(body)
            for _ in range(rng.randint(1, 3)):
                if broken:
                    broken[rng.randrange(len(broken))] = rng.randrange(256)
            broken = bytes(broken[: rng.randint(0, len(broken))] if rng.random() < 0.3 else broken)
            try:
                expected = _reference(broken)
            except Exception:  # upb refused it: the edge answers 400 before the native reader runs
                expected = None
            try:
                got = _native(broken)
            except ValueError:
                declined += 1
                continue
            if expected is not None:
                assert got == expected
                agreed += 1
    assert agreed > 100 and declined > 100


def test_a_body_that_is_not_protobuf_is_declined() -> None:
    for body in (b"\x0a\xff", b"\x0a\x05abc", b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", b"\x0b"):
        with pytest.raises(ValueError, match="declined"):
            _otlp.decode_traces(body)
        with pytest.raises(DecodeError):
            decode_traces(body, PROTOBUF)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _wrap_span(span: bytes) -> bytes:
    scope = b"\x12" + _varint(len(span)) + span
    resource_spans = b"\x12" + _varint(len(scope)) + scope
    return b"\x0a" + _varint(len(resource_spans)) + resource_spans
