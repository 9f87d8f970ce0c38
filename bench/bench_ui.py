"""How long each dashboard page takes to render its data over 1M and 10M spans (embedded chDB).

    python bench/bench_ui.py [--spans 1000000,10000000] [--range 24h,7d] [--repeat 5] [--json out.json]

For each size: spans generated as in bench_detectors.py (7 days, 6 models, RAG answers), the
detectors run until the rollup holds all history (as on a live system), then each page's
route is requested the way the browser does (POST /_dash-update-component for the router
callback, through the real Flask app) and timed end to end on the server: queries, figures,
JSON. Median and worst of `--repeat` runs per page. Target: under 1 s per page over 10M spans.
The browser's own drawing is not included. A benchmark prints figures; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_detectors import _history_left, configure, fill, timed_pass

from dashboard.ui.urls import RANGES
from llmpulse.app import Llmpulse
from llmpulse.config import Settings

TARGET_SECONDS = 1.0
PAGES = ("/", "/traces", "/costs", "/quality", "/alerts", "/settings")
_OUTPUTS = [{"id": "page", "property": "children"}, {"id": "nav", "property": "children"},
            {"id": "ranges", "property": "children"}]


def route_body(path: str, search: str) -> dict:
    return {"output": "..page.children...nav.children...ranges.children..", "outputs": _OUTPUTS,
            "inputs": [{"id": "url", "property": "pathname", "value": path},
                       {"id": "url", "property": "search", "value": search}],
            "changedPropIds": ["url.pathname"], "state": []}


def time_pages(service: Llmpulse, search: str, repeat: int, trace_id: str) -> dict[str, dict]:
    client = service.ui_app().test_client()
    out = {}
    for path in (*PAGES, f"/traces/{trace_id}"):
        seconds = []
        for _ in range(repeat):
            started = time.perf_counter()
            response = client.post("/_dash-update-component", json=route_body(path, search),
                                   headers={"Origin": "http://localhost"})  # as the browser does
            seconds.append(time.perf_counter() - started)
            assert response.status_code == 200, response.data[:300]
        out["/traces/<id>" if path.startswith("/traces/") else path] = {
            "median_s": round(statistics.median(seconds), 3), "max_s": round(max(seconds), 3)}
    return out


def bench(spans: int, ranges: list[str], repeat: int, data_dir: Path | None = None) -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="llmpulse-bench-ui-") as tmp:
        service = Llmpulse(Settings(data_dir=data_dir or Path(tmp), detectors=False))
        service.migrate()
        held = service.store.query("SELECT count() FROM {db}.spans", {}, "bench")[0][0]
        if held != spans:  # a kept --data-dir already filled with this many spans is reused
            fill(service, spans)
            configure(service)
        detector_pass = timed_pass(service)
        while _history_left(detector_pass):
            detector_pass = timed_pass(service)
        trace_id = service.store.query("SELECT any(trace_id) FROM {db}.spans", {}, "bench")[0][0]
        return [{"spans": spans, "search": f"?range={key}", "pages": time_pages(service, f"?range={key}", repeat,
                                                                               trace_id)} for key in ranges]


def report(results: list[dict]) -> None:
    paths = list(results[0]["pages"])
    print("| spans | range | " + " | ".join(paths) + " |")
    print("|---" * (2 + len(paths)) + "|")
    for r in results:
        cells = " | ".join(f"{r['pages'][p]['median_s']:.2f} s" for p in paths)
        print(f"| {r['spans']:,} | {r['search'].split('=')[1]} | {cells} |")
    print(f"\nMedian server time per page; target under {TARGET_SECONDS:.0f} s over 10M.")


def _run_alone(spans: int, args: argparse.Namespace) -> list[dict]:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        command = [sys.executable, __file__, "--spans", str(spans), "--range", args.range,
                   "--repeat", str(args.repeat), "--json", out.name]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        return json.loads(Path(out.name).read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", default="1000000,10000000")
    parser.add_argument("--range", default="24h,7d", help="comma-separated: 1h, 24h, 7d, 30d")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--data-dir", type=Path, help="keep the generated spans here and reuse them next run "
                                                      "(one size only; the spans' times are relative to the fill)")
    args = parser.parse_args()
    sizes = [int(n) for n in args.spans.split(",")]
    ranges = args.range.split(",")
    unknown = sorted(set(ranges) - set(RANGES))
    if unknown:
        parser.error(f"--range: {unknown[0]!r} is not one of {', '.join(RANGES)}")
    if len(sizes) == 1:
        results = bench(sizes[0], ranges, args.repeat, args.data_dir)
    else:  # chDB holds one engine per process: each size runs in a process of its own
        results = [r for n in sizes for r in _run_alone(n, args)]
    report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
