"""SLO evaluation cost at 1M spans (or more) in embedded ClickHouse (chDB), for N SLOs.

    python bench/bench_slos.py [--spans 1000000] [--slos 10,100] [--data-dir DIR] [--json out.json]

The spans are bench_detectors' (7 days, 6 models, 2% errors, half streamed). For each N, N SLOs
over the five SLIs, half of them scoped to a model, 28-day windows, are created, then the `slos`
detector runs: the first pass (it counts the newest two days of every new SLO's window), the later
passes that count the rest (two days each), a steady pass with no new span, and a pass after a
minute of fresh calls (1,000 spans ingested now, what a scheduler tick under load sees).
"evaluate only" is the read of every budget and burn window alone (`slo_statuses`). Figures are
printed; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.bench_detectors import _SPANS, fill
from llmpulse.app import Llmpulse
from llmpulse.config import Settings

_SLIS = ({"sli": "latency", "threshold": 4000}, {"sli": "ttft", "threshold": 300}, {"sli": "errors"},
         {"sli": "cost_per_request", "threshold": 0.0005}, {"sli": "hallucination"})
_MODELS = ("gpt-4o-mini", "gpt-4o", "claude-sonnet-4-5", "claude-haiku-4-5", "gemini-2.5-flash", "gpt-4.1")


def create_slos(service: Llmpulse, count: int) -> None:
    from detectors.slo.spec import parse_slo

    for i in range(count):
        body = {"name": f"slo {i}", **_SLIS[i % len(_SLIS)], "target": 0.99, "window": "28d",
                **({"filters": {"model": _MODELS[i % len(_MODELS)]}} if i % 2 else {})}
        service.alert_store.create_slo("default", 1_000_000 * count + i, parse_slo(body, known_channels=()).to_json())


def timed(action) -> tuple[float, object]:
    started = time.perf_counter()
    result = action()
    return round(time.perf_counter() - started, 3), result


def bench_count(service: Llmpulse, count: int) -> dict:
    from detectors.slo.status import slo_statuses
    from schemas.metadata.models import utcnow

    for slo in service.alert_store.list_slos():
        service.alert_store.delete_slo("default", slo.id)
    create_slos(service, count)
    run = lambda: service.detector_runner.run("slos")  # noqa: E731
    first, outcome = timed(run)
    backfill = []
    while " 0 still counting" not in outcome.result.message and len(backfill) < 20:
        seconds, outcome = timed(run)
        backfill.append(seconds)
    steady, _ = timed(run)
    service.store.query(_SPANS, {"n": 1000, "spread": 60}, "bench_fresh")
    fresh, outcome = timed(run)
    evaluate, _ = timed(lambda: slo_statuses(service.store, service.alert_store.list_slos(), utcnow()))
    return {"slos": count, "first_pass_backfill_s": first, "backfill_passes": len(backfill),
            "slowest_backfill_pass_s": max(backfill, default=0.0), "steady_pass_s": steady,
            "pass_after_fresh_minute_s": fresh, "evaluate_only_s": evaluate, "message": outcome.result.message}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=1_000_000)
    parser.add_argument("--slos", default="10,100")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--data-dir", type=Path, help="spans kept by another bench's --data-dir (filled if empty); "
                                                      "each SLO count adds its minute of 1,000 fresh spans there")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="llmpulse-bench-slo-") as tmp:
        service = Llmpulse(Settings(data_dir=args.data_dir or Path(tmp), detectors=False))
        service.migrate()
        held = service.store.query("SELECT count() FROM {db}.spans", {}, "bench")[0][0]
        fill_s = fill(service, args.spans) if held == 0 else 0.0
        results = [bench_count(service, int(n)) for n in args.slos.split(",")]
    print(f"{args.spans:,} spans (generated in {fill_s:.1f} s)")
    print("| SLOs | first pass s | later counting passes (slowest s) | steady pass s | pass after a fresh minute s "
          "| evaluate only s |")
    print("|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['slos']} | {r['first_pass_backfill_s']:.2f} | {r['backfill_passes']} "
              f"({r['slowest_backfill_pass_s']:.2f}) | {r['steady_pass_s']:.2f} | "
              f"{r['pass_after_fresh_minute_s']:.2f} | {r['evaluate_only_s']:.3f} |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
