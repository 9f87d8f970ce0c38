"""How long `GET /api/v1/compare` takes over 10M spans: two cohorts by model and by an attribute.

    python bench/bench_cohorts.py [--spans 10000000] [--repeat 5] [--data-dir /tmp/bench-cohorts-10m]

Spans are generated inside embedded ClickHouse as in bench_detectors.py (7 days, 6 models, 2%
errors), each with a span attribute `llmpulse.prompt.version` (v1 or v2, half each) and a resource
attribute `service.version` (1.4.0 or 1.5.0, two thirds and a third); 1% of the calls get a
hallucination verdict and a user_feedback score. Then each comparison is requested through the real
Flask app (the read, the NumPy tests, JSON) over the 7 days that end at the newest span,
`--repeat` times. Target: under 2 s. A benchmark prints figures; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_detectors import _SPANS

from llmpulse.app import Llmpulse
from llmpulse.config import Settings
from schemas.clickhouse.span_facts import FACT_COLUMNS, facts_sql

TARGET_SECONDS = 2.0
_ATTRIBUTES = ("start + INTERVAL 1 SECOND, map('llmpulse.prompt.version', if(number % 2 = 0, 'v1', 'v2')), "
               "map('service.version', if(number % 3 = 0, '1.5.0', '1.4.0'))\nFROM")
# 1% of calls scored: a verdict (the offline scorer: 10% hallucinated) and a thumbs up or down (80% up),
# as apps send them, each row with a copy of its span's facts as every writer makes (span_facts.py).
# The verdict and the thumb hash other strings than the 1% pick, or they would follow from it.
_EVALUATIONS = ("""
INSERT INTO {db}.evaluations (project_id, trace_id, span_id, evaluation_id, scorer, name, score, label,
    hallucinated, request_model, span_time, source, span_facts, """ + ", ".join(FACT_COLUMNS) + """)
SELECT project_id, trace_id, span_id, concat(kind, span_id), if(kind = 'v', 'groundedness', 'app:user_feedback'),
    if(kind = 'v', 'groundedness', 'user_feedback'), if(kind = 'v', 0.5, toFloat64(cityHash64(span_id, 'up') % 5 > 0)),
    '', if(kind = 'v', cityHash64(span_id, 'flag') % 10 = 0, NULL), request_model, start_time,
    if(kind = 'v', 'offline', 'app'), true, """ + facts_sql("spans") + """
FROM {db}.spans ARRAY JOIN ['v', 'f'] AS kind WHERE cityHash64(span_id) % 100 = 0
""")
COMPARISONS = {
    "model (gpt-4o vs gpt-4o-mini)": {"attribute": "model", "a": "gpt-4o", "b": "gpt-4o-mini"},
    "span attribute (llmpulse.prompt.version v1 vs v2)": {"attribute": "llmpulse.prompt.version", "a": "v1",
                                                         "b": "v2"},
    "resource attribute (service.version 1.4.0 vs 1.5.0)": {"attribute": "service.version", "a": "1.4.0",
                                                           "b": "1.5.0"},
}


def fill(service: Llmpulse, spans: int) -> float:
    """bench_detectors' spans, each with a prompt version and a service version, and 1% scored."""
    sql = _SPANS.replace("call_key, ingested_at)", "call_key, ingested_at, attributes, resource_attributes)", 1)
    sql = sql.replace("start + INTERVAL 1 SECOND\nFROM", _ATTRIBUTES, 1)
    if sql.count("attributes") != 2 or "llmpulse.prompt.version" not in sql:
        raise SystemExit("bench_detectors._SPANS changed: adapt bench_cohorts.fill")
    started = time.perf_counter()
    service.store.query(sql, {"n": spans, "spread": 7 * 86_400}, "bench_fill")
    service.store.query(_EVALUATIONS, {}, "bench_fill_evaluations")
    for table in ("spans", "evaluations"):
        service.store.client.command(f"OPTIMIZE TABLE {service.store.table(table)} FINAL")
    return time.perf_counter() - started


def time_comparisons(service: Llmpulse, repeat: int) -> dict[str, dict]:
    newest = service.store.query("SELECT max(start_time) FROM {db}.spans", {}, "bench")[0][0]
    end = newest + timedelta(seconds=1)
    window = {"from": (end - timedelta(days=7)).isoformat(), "to": end.isoformat()}
    client = service.ui_app().test_client()
    out = {}
    for label, query in COMPARISONS.items():
        seconds, answer = [], {}
        for _ in range(repeat):
            started = time.perf_counter()
            response = client.get("/api/v1/compare", query_string={**query, **window})
            seconds.append(time.perf_counter() - started)
            assert response.status_code == 200, response.data[:300]
            answer = response.get_json()
        out[label] = {"median_s": round(statistics.median(seconds), 3), "max_s": round(max(seconds), 3),
                      "requests": (answer["a"]["requests"], answer["b"]["requests"]),
                      "significant": [d["metric"] for d in answer["differences"]
                                      if d["p_adjusted"] is not None and d["p_adjusted"] < 0.01]}
    return out


def bench(spans: int, repeat: int, data_dir: Path | None) -> dict:
    with tempfile.TemporaryDirectory(prefix="llmpulse-bench-cohorts-") as tmp:
        service = Llmpulse(Settings(data_dir=data_dir or Path(tmp), detectors=False))
        service.migrate()
        held = service.store.query("SELECT count() FROM {db}.spans", {}, "bench")[0][0]
        fill_s = fill(service, spans) if held != spans else None  # a kept --data-dir is reused
        return {"spans": spans, "fill_seconds": fill_s, "comparisons": time_comparisons(service, repeat)}


def report(result: dict) -> None:
    print(f"| comparison over 7 days of {result['spans']:,} spans | median | worst | calls a / b |")
    print("|---|---|---|---|")
    for label, figures in result["comparisons"].items():
        a, b = figures["requests"]
        print(f"| {label} | {figures['median_s']:.2f} s | {figures['max_s']:.2f} s | {a:,} / {b:,} |")
    print(f"\nTarget: under {TARGET_SECONDS:.0f} s.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--data-dir", type=Path, help="keep the generated spans here and reuse them next run "
                                                      "(the spans' times are relative to the fill)")
    args = parser.parse_args()
    result = bench(args.spans, args.repeat, args.data_dir)
    report(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
