"""One full detector pass over 1M and 10M spans in embedded ClickHouse (chDB).

    python bench/bench_detectors.py [--spans 1000000,10000000] [--json out.json] [--per-user-budget]
                                    [--per-key-budget]

For each size: a fresh data directory; N synthetic LLM call spans over the last 7 days are
generated inside ClickHouse (INSERT … SELECT FROM numbers(N): 6 models, 2,000 users, 20 ingest keys,
2% errors, cache hits, a response-model change behind one model 2 days ago, RAG answers with retrieved
documents); 5 alert rules and a budget are set. Then every detector runs once, in order, as
`llmpulse detect` would. The first pass starts with an empty rollup (as after an upgrade over
existing data): it rolls up today and one day of history; further passes roll up a day each
until the oldest call, then a steady pass is what every scheduler tick costs. Per detector: wall
time and rows read; for the process: RSS before and peak (sampled every 50 ms). Target: a full pass over 10M spans in
under 10 s on a 2-core machine, memory bounded (the scan happens in ClickHouse, not in Python).
A benchmark prints figures; nothing here is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from llmpulse.app import Llmpulse
from llmpulse.config import Settings

TARGET_SECONDS_10M = 10.0
_MODELS = "['gpt-4o-mini','gpt-4o','claude-sonnet-4-5','claude-haiku-4-5','gemini-2.5-flash','gpt-4.1']"
_PROVIDERS = "['openai','openai','anthropic','anthropic','gcp.gemini','openai']"
_PROMPT = (
    """'[{"role":"user","content":"Context: [kb-1] Refunds are issued within 14 days of a request."""
    """\\n\\nQuestion: how fast are refunds?"}]'"""
)
_SPANS = f"""
INSERT INTO {{db}}.spans (project_id, trace_id, span_id, parent_span_id, name, kind, service_name, environment,
    scope_name, convention, start_time, end_time, duration_ms, status_code, span_type, provider, operation,
    request_model, response_model, system_fingerprint, input_tokens, output_tokens, cache_read_tokens,
    total_tokens, ttft_ms, finish_reasons, streaming, cache_hit, cost_input, cost_output, cost_total,
    cost_source, user_id, session_id, tags, input_messages, output_messages, retrieval_documents, is_call,
    call_key, ingested_at, resource_attributes)
SELECT 'default', lower(hex(cityHash64(intDiv(number, 4), 1))) || lower(hex(cityHash64(intDiv(number, 4), 2))),
    lower(hex(cityHash64(number, 3))), '', 'chat', 'client', ['api','worker','rag'][number % 3 + 1], 'prod',
    'opentelemetry.instrumentation.openai_v2', 'otel_genai', start, start + toIntervalMillisecond(toUInt64(dur)),
    dur, if(number % 50 = 0, 'error', 'ok'), 'llm', {_PROVIDERS}[m], 'chat', {_MODELS}[m],
    if(m = 1 AND start > now64(6) - INTERVAL 2 DAY, 'gpt-4o-mini-2025-01-31', {_MODELS}[m] || '-2024'),
    if(m = 1 AND start > now64(6) - INTERVAL 2 DAY, 'fp_new', 'fp_old'), 900 + number % 700, out,
    if(number % 3 = 0, 512, 0), 900 + number % 700 + out, if(number % 2 = 0, 150 + number % 300, NULL),
    [if(number % 40 = 0, 'length', 'stop')], number % 2 = 0, number % 17 = 0,
    toDecimal128((900 + number % 700) * 0.00000015, 12), toDecimal128(out * 0.0000006, 12),
    toDecimal128((900 + number % 700) * 0.00000015 + out * 0.0000006, 12), 'list_price',
    'user-' || toString(number % 2000), 'session-' || toString(intDiv(number, 12) % 50000),
    if(number % 5 = 0, ['beta'], []),
    {_PROMPT},
    '[{{"role":"assistant","content":"Refunds are issued within '
        || toString(if(number % 7 = 0, 30, 14)) || ' days."}}]',
    '', true, lower(hex(cityHash64(number, 3))), start + INTERVAL 1 SECOND,
    map('service.name', ['api','worker','rag'][number % 3 + 1], 'llmpulse.ingest_key', toString(number % 20 + 1))
FROM (SELECT number, now64(6) - toIntervalSecond(number * {{spread:UInt64}} / {{n:UInt64}}) AS start,
        number % 6 + 1 AS m, 40 + number % 400 AS out, 300 + (number % 400) * 18 + number % 97 AS dur
      FROM numbers({{n:UInt64}}))
"""
_RULES = [
    {"name": "p95 latency", "metric": "latency_p95_ms", "comparator": ">", "threshold": 5000, "window": "1h"},
    {"name": "errors", "metric": "error_rate", "comparator": ">", "threshold": 0.01, "window": "15m"},
    {"name": "spend", "metric": "cost_total", "comparator": ">", "threshold": 100, "window": "1d",
     "filters": {"model": "gpt-4o"}},
    {"name": "hallucinations", "metric": "hallucination_rate", "comparator": ">", "threshold": 0.1, "window": "1d"},
    {"name": "drift", "metric": "drift", "comparator": ">", "threshold": 0, "window": "1d"},
]


class RssPeak(threading.Thread):
    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.process, self.peak, self.running = psutil.Process(os.getpid()), 0, True

    def run(self) -> None:
        while self.running:
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.05)


def fill(service: Llmpulse, spans: int) -> float:
    started = time.perf_counter()
    service.store.query(_SPANS, {"n": spans, "spread": 7 * 86_400}, "bench_fill")
    service.store.client.command(f"OPTIMIZE TABLE {service.store.table('spans')} FINAL")
    return time.perf_counter() - started


def configure(service: Llmpulse, per_user: bool = False, per_key: bool = False) -> None:
    from datetime import timedelta

    from detectors.alerts.budget_rules import parse_budget
    from detectors.alerts.rules import parse_rule

    for rule in _RULES:
        service.alert_store.create_rule("default", parse_rule(rule, known_channels=(),
                                                              default_renotify=timedelta(hours=4)).to_json())
    budget = parse_budget({"amount_usd": 1000, "period": "month"}, known_channels=())
    service.alert_store.create_budget("default", budget.to_json())
    if per_user:  # every user at most $1 a month: most of the 2,000 users cross its thresholds
        budget = parse_budget({"amount_usd": 1, "period": "month", "per": "user"}, known_channels=())
        service.alert_store.create_budget("default", budget.to_json())
    if per_key:  # each of the 20 ingest keys the spans were sent with at most $50 a month
        budget = parse_budget({"amount_usd": 50, "period": "month", "per": "ingest_key"}, known_channels=())
        service.alert_store.create_budget("default", budget.to_json())


def timed_pass(service: Llmpulse) -> list[dict]:
    out = []
    for name in service.detector_runner.names:
        started = time.perf_counter()
        outcome = service.detector_runner.run(name)
        out.append({"detector": name, "seconds": round(time.perf_counter() - started, 3),
                    "outcome": outcome.outcome, "rows_read": outcome.result.rows_read,
                    "message": outcome.result.message[:200]})
    return out


def _total(detector_pass: list[dict]) -> float:
    return round(sum(d["seconds"] for d in detector_pass), 2)


def _history_left(detector_pass: list[dict]) -> bool:
    """The metrics detector rolls up one day of history per pass until it reaches the oldest call."""
    metrics = next(d for d in detector_pass if d["detector"] == "metrics")
    return " 0 from history" not in metrics["message"]


def bench(spans: int, per_user: bool = False, per_key: bool = False) -> dict:
    with tempfile.TemporaryDirectory(prefix="llmpulse-bench-det-", ignore_cleanup_errors=True) as tmp:
        service = Llmpulse(Settings(data_dir=Path(tmp), detectors=False))
        service.migrate()
        fill_s = fill(service, spans)
        configure(service, per_user, per_key)
        rss_before = psutil.Process(os.getpid()).memory_info().rss
        sampler = RssPeak()
        sampler.start()
        first = timed_pass(service)
        backfill = []
        while _history_left(backfill[-1] if backfill else first) and len(backfill) < 10:
            backfill.append(timed_pass(service))
        steady = timed_pass(service)
        sampler.running = False
        sampler.join()
        return {"spans": spans, "fill_seconds": round(fill_s, 1), "first_pass": first, "steady_pass": steady,
                "backfill_passes": len(backfill), "first_pass_seconds": _total(first),
                "slowest_backfill_pass_seconds": max((_total(p) for p in backfill), default=0.0),
                "steady_pass_seconds": _total(steady),
                "rss_before_mb": round(rss_before / 2**20), "peak_rss_mb": round(sampler.peak / 2**20)}


def report(results: list[dict]) -> None:
    names = [d["detector"] for d in results[0]["steady_pass"]]
    print("| spans | pass | total (s) | " + " | ".join(names) + " |")
    print("|---" * (3 + len(names)) + "|")
    for r in results:
        for label, key in (("first (empty rollup)", "first_pass"), ("steady (scheduler tick)", "steady_pass")):
            per = " | ".join(f"{d['seconds']:.2f}" + ("" if d["outcome"] == "ok" else " (error)") for d in r[key])
            print(f"| {r['spans']:,} | {label} | {_total(r[key]):.2f} | {per} |")
    print(f"\nTarget: a full pass over 10M spans in under {TARGET_SECONDS_10M:.0f} s.")
    for r in results:
        print(f"  {r['spans']:,}: {r['backfill_passes']} passes rolled up the older history "
              f"(slowest {r['slowest_backfill_pass_seconds']:.2f} s); RSS {r['rss_before_mb']} MB before the "
              f"passes, {r['peak_rss_mb']} MB at peak; generating the spans took {r['fill_seconds']} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", default="1000000,10000000")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--per-user-budget", action="store_true", help="add a budget per user ($1 a month each)")
    parser.add_argument("--per-key-budget", action="store_true", help="add a budget per ingest key ($50 a month each)")
    args = parser.parse_args()
    results = [bench(int(n), args.per_user_budget, args.per_key_budget) for n in args.spans.split(",")]
    report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
