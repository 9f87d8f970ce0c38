"""`GET /metrics` over 1M or 10M spans in embedded ClickHouse (chDB): idle, and during a detector pass.

    python bench/bench_metrics_scrape.py [--spans 10000000] [--repeat 10] [--data-dir DIR] [--json out.json]

Spans are generated as in bench_detectors.py (7 days of LLM calls: 6 models, 3 services, 2,000
users, RAG answers) with its 5 rules and budget; the metrics detector then rolls the whole history
up (first pass, then a day per pass, as after an upgrade), the hallucination detector scores its
sample and the alerts detector computes the budget, so every source of /metrics has data. Scrapes
go through the real Flask app (test client), as Prometheus would send them (gzip, text format):
median and worst of `--repeat`, then scrapes in a loop while a full detector pass runs in another
thread (drift's scans hold the engine's cores), with how many served a source from the previous
scrape (the 0.5 s budget). Target: every scrape under 1 s, never reading raw spans. `--data-dir`
keeps the data and reuses it. A benchmark prints figures; nothing is asserted.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_detectors import configure, fill, timed_pass

from llmpulse.app import Llmpulse
from llmpulse.config import Settings
from tests.scrape import Scrape

TARGET_SECONDS = 1.0
HEADERS = {"Accept": "text/plain", "Accept-Encoding": "gzip"}


def prepare(service: Llmpulse, spans: int) -> dict:
    """Spans, rules and budget, then the detectors until the rollups hold all history."""
    held = service.store.query("SELECT count() FROM {db}.spans", {}, "bench")[0][0]
    filled = {"fill_s": round(fill(service, spans), 1)} if held == 0 else {"reused_spans": held}
    if held == 0:
        configure(service)
    started, passes = time.perf_counter(), 0
    while passes < 12:
        passes += 1
        outcome = service.detector_runner.run("metrics")
        if " 0 from history" in outcome.result.message:
            break
    service.detector_runner.run_many(["hallucination", "alerts"])
    return {**filled, "rollup_passes": passes, "rollup_s": round(time.perf_counter() - started, 1)}


def scrape_once(client) -> tuple[float, bytes]:
    started = time.perf_counter()
    response = client.get("/metrics", headers=HEADERS)
    took = time.perf_counter() - started
    assert response.status_code == 200, response.data[:300]
    return took, gzip.decompress(response.data)


def idle_scrapes(client, repeat: int) -> dict:
    times, body = [], b""
    for _ in range(repeat):
        took, body = scrape_once(client)
        times.append(took)
    scraped = Scrape(body.decode())
    series = sum(len(samples) for samples in scraped.samples.values())
    calls = scraped.value("llmpulse_llm_requests_total") + scraped.value("llmpulse_llm_shadow_requests_total")
    return {"idle_median_s": round(statistics.median(times), 3), "idle_max_s": round(max(times), 3),
            "series": series, "bytes": len(body), "calls_counted": int(calls),
            "sources_s": {s.labels["source"]: round(s.value, 3)
                          for s in scraped.samples["llmpulse_scrape_source_duration_seconds"]}}


def busy_scrapes(service: Llmpulse, client) -> dict:
    """Scrapes back to back while a full detector pass runs (each detector in turn, drift the longest)."""
    done, passes = threading.Event(), []
    worker = threading.Thread(target=lambda: (passes.append(timed_pass(service)), done.set()), daemon=True)
    worker.start()
    times, stale = [], 0
    while not done.is_set():
        took, body = scrape_once(client)
        times.append(took)
        stale += int(Scrape(body.decode()).value("llmpulse_scrape_source_stale") > 0)
    worker.join()
    return {"busy_scrapes": len(times), "busy_median_s": round(statistics.median(times), 3) if times else None,
            "busy_max_s": round(max(times), 3) if times else None, "busy_stale_scrapes": stale,
            "detector_pass_s": round(sum(d["seconds"] for d in passes[0]), 2)}


def bench(spans: int, repeat: int, data_dir: Path | None) -> dict:
    with tempfile.TemporaryDirectory(prefix="llmpulse-bench-scrape-") as tmp:
        service = Llmpulse(Settings(data_dir=data_dir or Path(tmp), detectors=False))
        service.migrate()
        prepared = prepare(service, spans)
        client = service.ui_app().test_client()
        held = service.store.query("SELECT count() FROM {db}.spans", {}, "bench")[0][0]
        result = {"spans": held, **prepared, **idle_scrapes(client, repeat), **busy_scrapes(service, client)}
        service.stop()
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spans", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--data-dir", type=Path, help="keep the generated spans here and reuse them next run")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    r = bench(args.spans, args.repeat, args.data_dir)
    verdict = "ok" if max(r["idle_max_s"], r["busy_max_s"] or 0) < TARGET_SECONDS else "SLOW"
    print(f"{r['spans']:,} spans ({r['calls_counted']:,} calls counted): idle median {r['idle_median_s']} s, "
          f"worst {r['idle_max_s']} s; during a detector pass ({r['detector_pass_s']} s) {r['busy_scrapes']} scrapes, "
          f"median {r['busy_median_s']} s, worst {r['busy_max_s']} s, {r['busy_stale_scrapes']} with a stale source "
          f"[{verdict}, target < {TARGET_SECONDS} s]")
    print(f"exposition: {r['series']:,} series, {r['bytes']:,} bytes; per source (s): {r['sources_s']}")
    print(f"rollups made in {r.get('rollup_passes')} metrics pass(es), {r.get('rollup_s')} s"
          + (f"; spans generated in {r['fill_s']} s" if "fill_s" in r else ""))
    if args.json:
        args.json.write_text(json.dumps(r, indent=2))


if __name__ == "__main__":
    main()
