"""The shadow report (`GET /api/v1/shadow`) over 10M spans in embedded ClickHouse (chDB).

    python bench/bench_shadow.py [--spans 10000000] [--range 7d] [--repeat 5] [--data-dir DIR] [--json out.json]

Spans are generated as in bench_detectors.py (7 days of LLM calls, 6 models, RAG answers); then a
shadow call is added for 5% of the calls, in the same trace, naming the call in `shadow_of`: a
candidate model (gpt-4.1-mini), dearer or cheaper, slower, and answering differently one time in
three. The report is requested through the real Flask app (test client) over the last `--range`
and timed end to end on the server: the pair aggregates, the answer sample, the unpaired list and
JSON. Before timing, the shadow-pairs detector pairs the history (first run, then one day per run,
as the service does after an upgrade) and its time is printed; the report then reads the pairs
table for every hour but the newest minutes. Median and worst of `--repeat` runs. Target: under
2 s over 10M spans. `--data-dir` keeps the data and reuses it on the next run. A benchmark
prints figures; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_detectors import fill

from detectors.base import DetectorContext
from detectors.shadow_pairs import ShadowPairsDetector
from llmpulse.app import Llmpulse
from llmpulse.config import Settings
from schemas.clickhouse.shadow_pairs import held_pairs, oldest_shadow
from schemas.metadata.runs import StateStore

TARGET_SECONDS = 2.0
SHADOW_SHARE = 20  # one call in 20 has a shadow call
RANGES = {"24h": 86_400, "7d": 7 * 86_400}
_SHADOWS = f"""
INSERT INTO {{db}}.spans (project_id, trace_id, span_id, parent_span_id, name, kind, service_name, environment,
    scope_name, convention, start_time, end_time, duration_ms, status_code, span_type, provider, operation,
    request_model, response_model, input_tokens, output_tokens, total_tokens, cost_input, cost_output, cost_total,
    cost_source, user_id, input_messages, output_messages, is_call, call_key, shadow_of, ingested_at)
SELECT project_id, trace_id, lower(hex(cityHash64(span_id, 9))), parent_span_id, 'chat', kind, service_name,
    environment, scope_name, convention, start_time + INTERVAL 5 MILLISECOND,
    end_time + toIntervalMillisecond(toUInt64(duration_ms * 0.3)), duration_ms * 1.3, 'ok', 'llm', 'openai', 'chat',
    'gpt-4.1-mini', 'gpt-4.1-mini-2025-04-14', input_tokens, output_tokens, total_tokens,
    toDecimal128(input_tokens * 0.0000004, 12), toDecimal128(output_tokens * 0.0000016, 12),
    toDecimal128(input_tokens * 0.0000004 + output_tokens * 0.0000016, 12), 'list_price', user_id, input_messages,
    if(cityHash64(span_id) % 3 = 0, '[{{"role":"assistant","content":"I cannot say how long refunds take."}}]',
       output_messages), true, lower(hex(cityHash64(span_id, 9))), span_id, ingested_at
FROM {{db}}.spans WHERE project_id = 'default' AND shadow_of = '' AND cityHash64(span_id) % {SHADOW_SHARE} = 0
"""


def fill_with_shadows(service: Llmpulse, spans: int) -> dict:
    """`spans` spans in all: calls (bench_detectors.fill), then a shadow call for one in SHADOW_SHARE."""
    calls = round(spans * SHADOW_SHARE / (SHADOW_SHARE + 1))
    seconds = fill(service, calls)
    started = time.perf_counter()
    service.store.query(_SHADOWS, {}, "bench_shadows")
    service.store.client.command(f"OPTIMIZE TABLE {service.store.table('spans')} FINAL")
    return {"fill_s": round(seconds + time.perf_counter() - started, 1)}


def pair_history(service: Llmpulse) -> dict:
    """Run the shadow-pairs detector until the pairs table holds every shadow call's day."""
    state, detector = StateStore(service.metadata), ShadowPairsDetector(60.0)
    oldest, runs, started = oldest_shadow(service.store), 0, time.perf_counter()
    while runs == 0 or (oldest is not None and held_pairs(state).start > oldest):
        detector.run(DetectorContext(service.store, service.metadata, state, datetime.now(UTC)))
        runs += 1
    first = time.perf_counter()
    detector.run(DetectorContext(service.store, service.metadata, state, datetime.now(UTC)))
    return {"pairing_runs": runs, "pairing_s": round(first - started, 1),
            "idle_run_s": round(time.perf_counter() - first, 2)}


def time_report(service: Llmpulse, seconds: int, repeat: int) -> dict:
    client = service.ui_app().test_client()
    times, body = [], {}
    for _ in range(repeat):
        now = time.time()
        started = time.perf_counter()
        response = client.get("/api/v1/shadow", query_string={"from": now - seconds, "to": now})
        times.append(time.perf_counter() - started)
        assert response.status_code == 200, response.data[:300]
        body = response.get_json()
    pairs = body["pairs"]
    return {"median_s": round(statistics.median(times), 3), "max_s": round(max(times), 3),
            "model_pairs": len(pairs), "pairs": sum(p["pairs"] for p in pairs),
            "unpaired": body["unpaired_total"], "agreement_sample": sum(p["agreement_sample"] for p in pairs)}


def bench(spans: int, ranges: list[str], repeat: int, data_dir: Path | None) -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="llmpulse-bench-shadow-") as tmp:
        service = Llmpulse(Settings(data_dir=data_dir or Path(tmp), detectors=False))
        service.migrate()
        held = service.store.query("SELECT count() FROM {db}.spans", {}, "bench")[0][0]
        filled = fill_with_shadows(service, spans) if held == 0 else {"fill_s": None, "reused": held}
        filled |= pair_history(service)
        held = service.store.query("SELECT count(), countIf(shadow_of != '') FROM {db}.spans", {}, "bench")[0]
        out = [{"spans": held[0], "shadow_spans": held[1], "range": key, **filled,
                **time_report(service, RANGES[key], repeat)} for key in ranges]
        service.stop()
        return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spans", type=int, default=10_000_000)
    parser.add_argument("--range", default="7d", help="comma-separated: " + ",".join(RANGES))
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--data-dir", type=Path, help="keep the generated spans here and reuse them next run")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = bench(args.spans, args.range.split(","), args.repeat, args.data_dir)
    for r in results:
        verdict = "ok" if r["median_s"] < TARGET_SECONDS else "SLOW"
        print(f"{r['spans']:>11,} spans ({r['shadow_spans']:,} shadow)  {r['range']:>4}  median {r['median_s']} s  "
              f"max {r['max_s']} s  [{verdict}, target < {TARGET_SECONDS} s]  pairs {r['pairs']:,} "
              f"in {r['model_pairs']} model pairs, unpaired {r['unpaired']}, answers compared {r['agreement_sample']}")
    print(f"pairs table: {results[0]['pairing_runs']} detector run(s) to pair the history in "
          f"{results[0]['pairing_s']} s, then a run with nothing new in {results[0]['idle_run_s']} s")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
