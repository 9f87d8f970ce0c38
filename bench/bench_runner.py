"""The in-service experiment runner: 500 items against a local endpoint of fixed latency, concurrency 16.

    python bench/bench_runner.py [--items 500] [--concurrency 16] [--latency-ms 100] [--runs 3] [--json out.json]

A fake OpenAI-compatible endpoint (tests/fake_openai.py, in this process) answers every call after
exactly `--latency-ms`; `llmpulse serve` runs as a subprocess on free ports with a fresh data
directory, and each call's span is exported to it over OTLP by the real OpenTelemetry SDK, as the
service does. Per run: wall time of `run_items` against the ideal, ceil(items / concurrency) x
latency (target: within 10%); the CPU the bench process spent per item (runner and fake endpoint
together: with the machine's load average it tells a slow machine from a slow runner); the most
calls the endpoint saw in flight; errors; whether every span was delivered (the sink's flush);
and the time until all spans of the run are queryable in llmpulse. A benchmark prints figures;
nothing here is asserted.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.ingest_servers import Server, start_llmpulse
from evals.runner import RunItem, RunTags, run_items
from evals.spans import OtlpSpanSink
from evals.target import Target
from tests.fake_openai import FakeOpenAI

TARGET_OVERHEAD = 0.10


def run_once(fake: FakeOpenAI, server: Server, args: argparse.Namespace, number: int, before: int) -> dict:
    items = [RunItem(i, f"Question {i}: what is {i} + {i}?", {}) for i in range(args.items)]
    target = Target(fake.url, "gpt-4o-mini", prompt_template="Answer with a number. {{input}}")
    sink = OtlpSpanSink(f"http://{server.host}:{server.port}", None)
    fake.reset_in_flight()
    started, cpu = time.perf_counter(), time.process_time()
    outcomes = run_items(target, items, RunTags(f"bench-{number}", "bench", 1), sink, concurrency=args.concurrency)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    delivered = sink.flush()
    sink.close()
    queryable = wait_queryable(server, before + args.items, started)
    ideal = math.ceil(args.items / args.concurrency) * args.latency_ms / 1000
    return {
        "run": number, "wall_s": round(wall, 3), "ideal_s": ideal, "overhead_pct": round(100 * (wall / ideal - 1), 1),
        "cpu_ms_per_item": round(1000 * cpu / args.items, 2), "load_1m": round(os.getloadavg()[0], 1),
        "max_in_flight": fake.max_in_flight, "errors": sum(1 for o in outcomes if o.error),
        "spans_delivered": delivered, "queryable_after_s": queryable,
    }


def wait_queryable(server: Server, count: int, started: float, timeout: float = 120.0) -> float | None:
    """Seconds from the run's start until llmpulse's summary counts `count` calls (None: not within timeout)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.count() >= count:
            return round(time.perf_counter() - started, 2)
        time.sleep(0.2)
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-runner-") as workdir:
        server = start_llmpulse(Path(workdir))
        try:
            with FakeOpenAI(latency=args.latency_ms / 1000) as fake:
                runs = [run_once(fake, server, args, n, (n - 1) * args.items) for n in range(1, args.runs + 1)]
        finally:
            server.stop()
    print_table(runs, args)
    if args.json:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "runs": runs}, indent=2))


def print_table(runs: list[dict], args: argparse.Namespace) -> None:
    print(f"\n{args.items} items, concurrency {args.concurrency}, endpoint latency {args.latency_ms:g} ms "
          f"(target: wall within {TARGET_OVERHEAD:.0%} of ideal)\n")
    print("| run | wall s | ideal s | over ideal | CPU ms/item | load (1 min) | max in flight | errors "
          "| spans delivered | queryable after s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in runs:
        print(f"| {r['run']} | {r['wall_s']:.3f} | {r['ideal_s']:.2f} | {r['overhead_pct']:+.1f}% | "
              f"{r['cpu_ms_per_item']} | {r['load_1m']} | "
              f"{r['max_in_flight']} | {r['errors']} | {r['spans_delivered']} | {r['queryable_after_s']} |")


if __name__ == "__main__":
    main()
