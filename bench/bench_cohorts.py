"""How long `GET /api/v1/compare` takes over 10M spans: two cohorts by model and by an attribute.

    python bench/bench_cohorts.py [--spans 10000000] [--repeat 5] [--data-dir /tmp/bench-cohorts-10m]

Spans are generated inside embedded ClickHouse as in bench_detectors.py (7 days, 6 models, 2%
errors), each with a span attribute `llmpulse.prompt.version` (v1 or v2, half each) and a resource
attribute `service.version` (1.4.0 or 1.5.0, two thirds and a third); 1% of the calls get a
hallucination verdict and a user_feedback score. Both attribute keys are declared cohort keys (the
defaults), so the cohort-rollup detector is run, as after an upgrade, until the rollup holds the
whole history (each run's time is printed, then a run with nothing new and one that recomputes the
newest hour). Then each comparison is requested through the real Flask app (the read, the NumPy
tests, JSON) over the 7 days that end at the newest span, `--repeat` times: attribute comparisons
once from the rollup and once with the rollup's marks hidden, so they scan as an undeclared key
does; both answers are compared (counts and cost must be equal, p-values close). Target: under
2 s. A benchmark prints figures; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_detectors import _SPANS

from detectors.base import DetectorContext
from detectors.cohort_rollup import CohortRollupDetector
from detectors.metrics import OVERLAP
from llmpulse.app import Llmpulse
from llmpulse.config import Settings
from schemas.clickhouse.cohort_rollup import MARKS_PREFIX, RolledKeys, rolled_keys
from schemas.clickhouse.span_facts import FACT_COLUMNS, facts_sql
from schemas.metadata.runs import StateStore

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


def roll_history(service: Llmpulse) -> dict:
    """Run the cohort-rollup detector until every declared key holds the oldest call (today first,
    then a day of history per run), then once with nothing new, and once after marking the spans of
    the newest hour's last 10 minutes as just arrived (~10k late spans: the hour is recomputed)."""
    state, detector = StateStore(service.metadata), CohortRollupDetector(60.0)
    oldest = service.store.query("SELECT min(start_time) FROM {db}.spans", {}, "bench")[0][0].replace(tzinfo=UTC)
    runs: list[float] = []
    while not runs or (min(_marks(state).floors.values()) > oldest and len(runs) < 60):
        runs.append(_timed_run(service, detector, state))
    idle = _timed_run(service, detector, state)
    newest = service.store.query("SELECT max(ingested_at) FROM {db}.spans", {}, "bench")[0][0].replace(tzinfo=UTC)
    marks = _marks(state)
    state.set(MARKS_PREFIX + "default", RolledKeys(marks.floors, marks.until,
                                                   newest - timedelta(minutes=10) + OVERLAP).to_text())
    late = _timed_run(service, detector, state)
    rows = service.store.query("SELECT count(), countIf(requests > 0) FROM {db}.cohort_hour FINAL", {}, "bench")[0]
    size = service.store.query("SELECT sum(bytes_on_disk) FROM system.parts WHERE active AND database = {d:String} "
                               "AND table = 'cohort_hour'", {"d": service.store.database}, "bench")[0][0]
    return {"backfill_runs_s": runs, "idle_run_s": idle, "late_hour_run_s": late, "rollup_rows": rows[1],
            "rollup_mib": round(size / 2**20, 1)}


def _marks(state: StateStore) -> RolledKeys:
    marks = rolled_keys(state, "default")
    assert marks is not None
    return marks


def _timed_run(service: Llmpulse, detector: CohortRollupDetector, state: StateStore) -> float:
    started = time.perf_counter()
    detector.run(DetectorContext(service.store.background(), service.metadata, state, datetime.now(UTC)))
    return round(time.perf_counter() - started, 2)


def time_comparisons(service: Llmpulse, repeat: int) -> dict[str, dict]:
    newest = service.store.query("SELECT max(start_time) FROM {db}.spans", {}, "bench")[0][0]
    end = newest + timedelta(seconds=1)
    window = {"from": (end - timedelta(days=7)).isoformat(), "to": end.isoformat()}
    client, state = service.ui_app().test_client(), StateStore(service.metadata)
    out = {}
    for label, query in COMPARISONS.items():
        out[label] = _time_one(client, {**query, **window}, repeat)
        if query["attribute"] != "model":  # again, as an undeclared key: the rollup's marks hidden
            marks = state.get(MARKS_PREFIX + "default") or ""
            state.set(MARKS_PREFIX + "default", "")
            scanned = _time_one(client, {**query, **window}, repeat)
            state.set(MARKS_PREFIX + "default", marks)
            out[f"{label}, undeclared"] = {**scanned, "agrees": _agreement(out[label]["answer"], scanned["answer"]),
                                           "scan_again": _agreement(scanned["first"], scanned["answer"])}
    return out


def _time_one(client: Any, query: dict[str, str], repeat: int) -> dict:
    seconds, cpu, answer, first = [], [], {}, None
    for _ in range(repeat):
        started, used = time.perf_counter(), time.process_time()
        response = client.get("/api/v1/compare", query_string=query)
        seconds.append(time.perf_counter() - started)
        cpu.append(time.process_time() - used)
        assert response.status_code == 200, response.data[:300]
        answer = response.get_json()
        first = first or answer
    return {"first": first, "median_s": round(statistics.median(seconds), 3), "max_s": round(max(seconds), 3),
            "cpu_s": round(statistics.median(cpu), 3), "read": answer["read"],
            "requests": (answer["a"]["requests"], answer["b"]["requests"]),
            "significant": [d["metric"] for d in answer["differences"]
                            if d["p_adjusted"] is not None and d["p_adjusted"] < 0.01], "answer": answer}


def _agreement(rolled: dict, scanned: dict) -> dict:
    """Counts and money must be equal; the tests and percentiles come from two reservoir samples."""
    exact = ("requests", "errors", "cost", "output_tokens", "hallucination", "feedback")
    pairs = [(d["metric"], d["p_value"], s["p_value"]) for d, s in zip(rolled["differences"], scanned["differences"],
                                                                       strict=True)]
    return {"exact_equal": all(rolled[side][k] == scanned[side][k] for side in "ab" for k in exact),
            "p_values": [(metric, _round(p), _round(q)) for metric, p, q in pairs],
            "latency_p50": [(rolled[side]["latency_ms"]["p50"], scanned[side]["latency_ms"]["p50"]) for side in "ab"]}


def _round(value: float | None) -> float | None:
    return None if value is None else float(f"{value:.3g}")


def bench(spans: int, repeat: int, data_dir: Path | None) -> dict:
    with tempfile.TemporaryDirectory(prefix="llmpulse-bench-cohorts-") as tmp:
        service = Llmpulse(Settings(data_dir=data_dir or Path(tmp), detectors=False))
        service.migrate()
        held = service.store.query("SELECT count() FROM {db}.spans", {}, "bench")[0][0]
        fill_s = fill(service, spans) if held != spans else None  # a kept --data-dir is reused
        return {"spans": spans, "fill_seconds": fill_s, "rollup": roll_history(service),
                "comparisons": time_comparisons(service, repeat)}


def report(result: dict) -> None:
    rollup = result["rollup"]
    runs = rollup["backfill_runs_s"]
    print(f"cohort rollup: {len(runs)} detector run(s) to roll the history ({sum(runs):.1f} s: "
          f"{', '.join(f'{r:.1f}' for r in runs)}), then a run with nothing new {rollup['idle_run_s']:.2f} s, "
          f"one recomputing the newest hour {rollup['late_hour_run_s']:.2f} s; {rollup['rollup_rows']:,} rows, "
          f"{rollup['rollup_mib']} MiB\n")
    print(f"| comparison over 7 days of {result['spans']:,} spans | read | median | worst | CPU | calls a / b |")
    print("|---|---|---|---|---|---|")
    for label, figures in result["comparisons"].items():
        a, b = figures["requests"]
        print(f"| {label} | {figures['read']} | {figures['median_s']:.2f} s | {figures['max_s']:.2f} s | "
              f"{figures['cpu_s']:.2f} s | {a:,} / {b:,} |")
    print(f"\nTarget: under {TARGET_SECONDS:.0f} s.")
    for label, figures in result["comparisons"].items():
        if "agrees" in figures:
            agrees = figures["agrees"]
            print(f"{label}: counts and cost equal: {agrees['exact_equal']}; p50 latency (rollup, scan) "
                  f"{agrees['latency_p50']}; p-values (rollup, scan) {agrees['p_values']}; p-values of the "
                  f"first and last scan {figures['scan_again']['p_values']}")


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
        for figures in result["comparisons"].values():
            figures.pop("answer"), figures.pop("first")
        args.json.write_text(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
