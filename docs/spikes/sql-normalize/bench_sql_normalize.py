"""SQL ingest path vs Python ingest path: spans/s for 1k- and 10k-span batches (prints figures).

Python path: decode_traces + normalize_span per span, then the Arrow insert the writer does.
SQL path: the raw protobuf bodies in one INSERT (schemas.ingest_sql); ClickHouse parses and
normalizes them in the view. Both land in `spans` of a fresh chDB database. Spans are OTel
GenAI chat spans with message content, as openai-v2 sends them (the spike's generator).

    python -m bench.bench_sql_normalize [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import tempfile
import time
from collections.abc import Callable

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from collector.decode import decode_traces
from collector.normalize import normalize_span
from schemas import ingest_sql
from schemas.fields import SPAN_COLUMNS
from schemas.store import Store, connect

SPANS_PER_BODY = 1000
T0 = 1_760_000_000_000_000_000


def key_value(key: str, value: object) -> KeyValue:
    out = AnyValue()
    if isinstance(value, bool):
        out.bool_value = value
    elif isinstance(value, int):
        out.int_value = value
    elif isinstance(value, float):
        out.double_value = value
    elif isinstance(value, list):
        out.array_value.values.extend(AnyValue(string_value=item) for item in value)
    else:
        out.string_value = str(value)
    return KeyValue(key=key, value=out)


def build_body(rng: random.Random, first: int) -> bytes:
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.extend([
        key_value("service.name", "chat-api"), key_value("deployment.environment", "prod"),
        key_value("telemetry.sdk.language", "python"), key_value("telemetry.sdk.version", "1.45.1"),
    ])
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name, scope_spans.scope.version = "opentelemetry.instrumentation.openai_v2", "2.1b0"
    for number in range(first, first + SPANS_PER_BODY):
        fill_span(scope_spans.spans.add(), rng, number)
    return request.SerializeToString()


def fill_span(span: object, rng: random.Random, number: int) -> None:
    span.trace_id, span.span_id = rng.randbytes(16), rng.randbytes(8)
    span.name, span.kind = "chat gpt-4o-mini", 3
    span.start_time_unix_nano = T0 + number * 1_000_000
    span.end_time_unix_nano = span.start_time_unix_nano + rng.randint(200, 5000) * 1_000_000
    prompt = "".join(rng.choice("abcdefghij klmnop") for _ in range(600))
    answer = "".join(rng.choice("qrstuv wxyz") for _ in range(250))
    inputs = [{"role": "system", "parts": [{"type": "text", "content": "You are ACME's support assistant. " * 3}]},
              {"role": "user", "parts": [{"type": "text", "content": prompt}]}]
    outputs = [{"role": "assistant", "parts": [{"type": "text", "content": answer}], "finish_reason": "stop"}]
    attributes = {
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.response.model": "gpt-4o-mini-2024-07-18", "gen_ai.request.temperature": 0.7,
        "gen_ai.request.max_tokens": 1024, "gen_ai.response.id": f"chatcmpl-{rng.getrandbits(64):016x}",
        "gen_ai.response.finish_reasons": ["stop"], "gen_ai.usage.input_tokens": rng.randint(50, 3000),
        "gen_ai.usage.output_tokens": rng.randint(10, 800), "server.address": "api.openai.com",
        "gen_ai.request.stream": bool(number % 2), "user.id": f"u{number % 50}",
        "gen_ai.input.messages": json.dumps(inputs), "gen_ai.output.messages": json.dumps(outputs),
    }
    span.attributes.extend(key_value(key, value) for key, value in attributes.items())
    if number % 10 == 0:
        span.status.code, span.status.message = 2, "RateLimitError"


def run_python(store: Store, bodies: list[bytes], insert: bool) -> None:
    spans = [span for body in bodies for span in decode_traces(body, "application/x-protobuf").spans]
    rows = [normalize_span(span, "bench") for span in spans]
    if insert:
        store.insert_columns("spans", SPAN_COLUMNS, [[row[c] for row in rows] for c in SPAN_COLUMNS])


def measure(label: str, spans: int, repeats: int, work: Callable[[], None]) -> None:
    walls, cpus = [], []
    for _ in range(repeats):
        usage, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        work()
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_SELF)
        cpus.append(after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime)
    wall, cpu = statistics.median(walls), statistics.median(cpus)
    print(f"{label:44s} {spans:6d} spans  {wall * 1e3:8.1f} ms  {wall / spans * 1e6:7.1f} µs/span  "
          f"{spans / wall:8.0f} spans/s  (cpu {cpu / spans * 1e6:6.1f} µs/span)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rng = random.Random(1)
    bodies = [build_body(rng, i * SPANS_PER_BODY) for i in range(10)]
    with tempfile.TemporaryDirectory() as folder:
        client = connect(f"chdb://{folder}/clickhouse")
        store = Store(client, "bench_sql")
        store.migrate()
        start = time.perf_counter()
        objects = ingest_sql.ensure_ingest_objects(client, "bench_sql")
        print(f"create input table + view: {(time.perf_counter() - start) * 1e3:.0f} ms")
        empty = ExportTraceServiceRequest().SerializeToString()
        measure("SQL path, empty body (per-INSERT overhead)", 1, args.repeats,
                lambda: ingest_sql.insert_bodies(client, objects, [("bench", empty)]))
        for count in (1, 10):
            batch, spans = bodies[:count], count * SPANS_PER_BODY
            measure("Python decode+normalize", spans, args.repeats, lambda b=batch: run_python(store, b, False))
            measure("Python decode+normalize+insert", spans, args.repeats, lambda b=batch: run_python(store, b, True))
            measure("SQL path (one INSERT, view normalizes)", spans, args.repeats,
                    lambda b=batch: ingest_sql.insert_bodies(client, objects, [("bench", x) for x in b]))


if __name__ == "__main__":
    main()
