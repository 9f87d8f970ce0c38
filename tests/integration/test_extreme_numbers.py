"""Property: whatever numbers a span carries, what passed the checks before the 200 is stored.

Every attribute the convention table maps (every convention, JSON paths inside attributes
included) gets random extreme values: huge, negative, NaN, infinite, fractional, numbers as
text, text that is no number, booleans; span times too. They go the real way: the OTLP edge,
decode, normalize, price, column lists and a real chDB insert. Nothing may reach the dead
letter or fail to be made into rows, no sum may wrap, and what the response said was refused
is exactly what each stored span says was refused. Seeded, so a failure replays.
"""

from __future__ import annotations

import json
import random
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from collector.check import check_traces
from collector.counts import DEFAULT_MAX_COUNT, MAX_REPORTED_COST, REFUSED_ATTRIBUTE
from collector.decode import decode_checked_traces
from collector.normalize import normalize_span
from collector.transport import PROTOBUF_CONTENT_TYPE
from schemas import conventions as cv
from schemas import fields as f
from tests.conftest import Running
from tests.spans import any_value

SEED = 20
SPANS = 400
PER_REQUEST = 100
INT64 = 2**63 - 1
LAST_STORABLE_NS = 10_413_792_000_000_000_000 - 1  # 2299-12-31T23:59:59.999999999Z
NUMBERS: tuple[object, ...] = (
    0, 1, 7, DEFAULT_MAX_COUNT, DEFAULT_MAX_COUNT + 1, INT64, -INT64 - 1, -1, 2**53 + 1,
    0.5, 123.75, -0.0, 1e308, -1e308, 5e-324, float("nan"), float("inf"), float("-inf"), 1e19, 1e30,
    "12", " 42 ", "12.5", "-5", "1e999", "NaN", "-Infinity", "9" * 400, "1e19", "0x10", "many", "", "[1, 2]",
    True, False,
)
TIMES = (0, 1, 10**18, 1_700_000_000_000_000_000, LAST_STORABLE_NS, LAST_STORABLE_NS + 1, 2**63, 2**64 - 1)


def extreme(rng: random.Random) -> object:
    """One value from the edges, or a random int64, double or digit string."""
    kind = rng.randrange(5)
    if kind == 0:
        return rng.randint(-INT64 - 1, INT64)
    if kind == 1:
        return rng.choice((-1, 1)) * 10 ** rng.uniform(-10, 308)
    if kind == 2:
        return str(rng.randint(-(10**30), 10**30))
    return rng.choice(NUMBERS)


def mapped_attributes(rng: random.Random) -> dict[str, object]:
    """A random half of every mapped source, each with an extreme value; JSON sources as JSON text."""
    flat: dict[str, object] = {}
    blobs: dict[str, dict[str, Any]] = {}
    for sources in cv.FIELD_SOURCES.values():
        for source in sources:
            if rng.random() < 0.5:
                continue
            if not source.path:
                flat[source.key] = extreme(rng)
                continue
            node = blobs.setdefault(source.key, {})
            for step in source.path[:-1]:
                node = node.setdefault(step, {}) if isinstance(node.get(step, {}), dict) else {}
            node[source.path[-1]] = extreme(rng)
    flat.update({key: json.dumps(blob) for key, blob in blobs.items()})
    flat["gen_ai.operation.name"] = "chat"  # an LLM call, so it is priced and summed
    return flat


def random_span(rng: random.Random, number: int) -> Span:
    attrs = mapped_attributes(rng)
    return Span(
        trace_id=(number + 1).to_bytes(16, "big"), span_id=(number + 1).to_bytes(8, "big"), name=f"call {number}",
        start_time_unix_nano=rng.choice(TIMES), end_time_unix_nano=rng.choice(TIMES),
        attributes=[KeyValue(key=key, value=_value(value)) for key, value in attrs.items()],
    )


def _value(value: object) -> Any:
    """int_value is an int64: a larger int travels as a double, as an exporter would have to send it."""
    if isinstance(value, int) and not isinstance(value, bool) and not -INT64 - 1 <= value <= INT64:
        return any_value(float(value))
    return any_value(value)


def body_of(*spans: Span) -> bytes:
    scope = ScopeSpans(spans=list(spans))
    return ExportTraceServiceRequest(resource_spans=[ResourceSpans(scope_spans=[scope])]).SerializeToString()


def test_what_the_edge_refused_is_what_the_span_says() -> None:
    """Span by span (the response keeps 5 reasons a request): the edge's reasons, the stored
    reasons and the NULL counts agree."""
    rng = random.Random(SEED)
    for number in range(SPANS):
        checked = check_traces(body_of(random_span(rng, number)), PROTOBUF_CONTENT_TYPE)
        said = [reason.partition(": ")[2].removesuffix("; the span is kept without it") for reason in checked.reasons]
        if not checked.valid:
            assert checked.rejected == 1 and "is after 2299-12-31" in said[0]
            continue
        row = normalize_span(decode_checked_traces(checked).spans[0], "p")
        stored = [r for r in row[f.ATTRIBUTES].get(REFUSED_ATTRIBUTE, "").split("; ") if r]
        assert said == stored[:5], number
        assert all(row[name] is None or 0 <= row[name] <= 3 * DEFAULT_MAX_COUNT for name in f.TOKEN_FIELDS)
        assert (None in (row[name] for name in f.TOKEN_FIELDS)) <= bool(stored), number


def test_extreme_numbers_never_reach_the_dead_letter(running: Running) -> None:
    rng = random.Random(SEED)
    spans = [random_span(rng, number) for number in range(SPANS)]
    responses = running.send(*(body_of(*spans[at:at + PER_REQUEST]) for at in range(0, SPANS, PER_REQUEST)))
    accepted = sum(PER_REQUEST - ExportTraceServiceResponse.FromString(r.content).partial_success.rejected_spans
                   for r in responses)
    stats = running.service.writer.stats
    assert (stats.dead_lettered, stats.unmade) == (0, 0), stats.last_error
    store = running.service.store
    assert store.query("SELECT count() FROM {db}.spans FINAL", {}, "test")[0][0] == accepted
    assert 0 < accepted < SPANS  # the seed does cover unstorable times
    rows = store.query("SELECT input_tokens, total_tokens, cost_total FROM {db}.spans FINAL", {}, "test")
    sums = store.query("SELECT sum(input_tokens), sum(total_tokens), sum(cost_total) FROM {db}.spans FINAL",
                       {}, "test")[0]
    assert sums == tuple(sum(r[i] or 0 for r in rows) for i in range(3))  # no wrap, money exact
    assert sum(r[0] is None for r in rows) > 0  # the seed does cover refused counts
    assert max(r[2] or 0 for r in rows) <= MAX_REPORTED_COST
