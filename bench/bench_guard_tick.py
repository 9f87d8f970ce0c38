"""What guards add to the alerts detector's tick, over N spans in embedded ClickHouse (chDB).

    python bench/bench_guard_tick.py [--spans 1000000] [--guards 60] [--repeat 3] [--data-dir DIR] [--json out.json]

The spans, rules and budget of bench_detectors.py; the detectors run until the rollup holds all
history (a live system's steady state). Then the alerts detector alone is timed (median of
`--repeat` runs) without guards and with `--guards` guards spread over 5 scopes (no filter,
a model, a service, model + service, a user) and 2 windows, six rollup metrics each, plus one
hallucination-rate guard: the ClickHouse queries of each run are counted, so grouping shows
(one read per project, window and filters, whatever the number of guards on it). Target (issue
#24): every rule, budget, guard and SLO evaluation of a tick under 1 s at 1M spans. The guards'
part of the run (their reads, state machine and writes) is timed on its own. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_detectors import _history_left, configure, fill, timed_pass

from detectors.alerts.guard_rules import parse_guard
from llmpulse.app import Llmpulse
from llmpulse.config import Settings
from schemas.metadata.guard_store import GuardStore

SCOPES = [{}, {"model": "gpt-4o"}, {"service": "rag"}, {"model": "gpt-4o-mini", "service": "api"}, {"user": "user-7"}]
WINDOWS = ["5m", "1h"]
METRICS = [("error_rate", 0.5), ("latency_p95_ms", 60000), ("cost_per_request", 1.0), ("cost_total", 10000),
           ("latency_p99_ms", 60000), ("ttft_p95_ms", 60000)]


def add_guards(service: Llmpulse, count: int) -> int:
    store = GuardStore(service.metadata)
    combos = itertools.cycle(itertools.product(SCOPES, WINDOWS, METRICS))
    for i in range(count - 1):
        scope, window, (metric, threshold) = next(combos)
        body = {"name": f"g{i}", "metric": metric, "comparator": ">", "threshold": threshold, "window": window,
                "filters": scope}
        store.create("default", parse_guard(body, known_channels=()).to_json())
    hallucinations = {"name": "hallucinations", "metric": "hallucination_rate", "comparator": ">", "threshold": 0.5,
                      "window": "1h"}
    store.create("default", parse_guard(hallucinations, known_channels=()).to_json())
    return count


def time_alerts(service: Llmpulse, repeat: int) -> dict[str, Any]:
    store = service.detector_runner.store
    counted = {"queries": 0}
    original = store.query_dicts

    def counting(*args: Any, **kwargs: Any) -> Any:
        counted["queries"] += 1
        return original(*args, **kwargs)

    store.query_dicts = counting  # type: ignore[method-assign]
    evaluator = service.detector_runner.detectors["alerts"].guards  # type: ignore[attr-defined]
    guard_seconds: list[float] = []
    evaluate = evaluator.run

    def timed_guards(*args: Any) -> Any:
        started = time.perf_counter()
        try:
            return evaluate(*args)
        finally:
            guard_seconds.append(time.perf_counter() - started)

    evaluator.run = timed_guards
    seconds, messages = [], []
    try:
        for _ in range(repeat):
            counted["queries"] = 0
            started = time.perf_counter()
            outcome = service.detector_runner.run("alerts")
            seconds.append(time.perf_counter() - started)
            messages.append(outcome.result.message)
    finally:
        store.query_dicts = original  # type: ignore[method-assign]
        evaluator.run = evaluate
    return {"median_s": round(statistics.median(seconds), 3), "max_s": round(max(seconds), 3),
            "guards_part_median_s": round(statistics.median(guard_seconds), 3),
            "clickhouse_queries": counted["queries"], "message": messages[-1][:200]}


def bench(spans: int, guards: int, repeat: int, data_dir: Path | None = None) -> dict[str, Any]:
    """`data_dir` keeps the spans for the next run (bench_metrics_scrape.py --data-dir fills the same
    way): spans, rules and budget are made only when it holds none, guards only when it has none."""
    with tempfile.TemporaryDirectory(prefix="llmpulse-bench-guards-") as tmp:
        service = Llmpulse(Settings(data_dir=data_dir or Path(tmp), detectors=False))
        service.migrate()
        if service.store.query("SELECT count() FROM {db}.spans", {}, "bench")[0][0] == 0:
            fill(service, spans)
            configure(service)
        detector_pass = timed_pass(service)
        while _history_left(detector_pass):
            detector_pass = timed_pass(service)
        for guard in GuardStore(service.metadata).list("default"):
            GuardStore(service.metadata).delete("default", guard.id)
        without = time_alerts(service, repeat)
        add_guards(service, guards)
        with_guards = time_alerts(service, repeat)
        return {"spans": spans, "guards": guards, "alerts_without_guards": without, "alerts_with_guards": with_guards}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=1_000_000)
    parser.add_argument("--guards", type=int, default=60)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--data-dir", type=Path, help="keep the generated spans here and reuse them next run")
    args = parser.parse_args()
    result = bench(args.spans, args.guards, args.repeat, args.data_dir)
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
