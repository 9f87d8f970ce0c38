"""An experiment end to end, as a user starts one: POST /api/v1/experiments until it is `done`.

    python bench/bench_experiment.py [--items 500] [--concurrency 16] [--latency-ms 100] [--runs 3]

bench_runner.py times `run_items` alone; this times what a user waits for. `llmpulse serve` runs
as a subprocess; a dataset of `--items` items is posted once; each run posts an experiment on it
against a fake OpenAI-compatible endpoint in this process that answers after exactly
`--latency-ms`, then polls the experiment until it is `done`. Per run: seconds until every item
has an answer (`items_done`), against the ideal ceil(items / concurrency) x latency (target:
within 10%), and until `done` (the answers' spans read back from ClickHouse, priced, scored,
results stored in one step). A benchmark prints figures; nothing here is asserted.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.ingest_servers import _wait_http, free_port
from tests.fake_openai import FakeOpenAI

POLL_SECONDS = 0.05


def start_server(workdir: Path) -> tuple[subprocess.Popen, str]:
    ui = free_port()
    command = [sys.executable, "-m", "llmpulse.cli", "serve", "--data-dir", str(workdir / "data"),
               "--host", "127.0.0.1", "--otlp-port", str(free_port()), "--ui-port", str(ui)]
    with (workdir / "llmpulse.log").open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    _wait_http(f"http://127.0.0.1:{ui}/readyz", process, 120)
    return process, f"http://127.0.0.1:{ui}/api/v1"


def post_dataset(api: str, items: int) -> None:
    requests.post(f"{api}/datasets", json={"name": "bench"}, timeout=30).raise_for_status()
    body = [{"input": f"Question {n}: what is {n} + {n}?", "expected": str(2 * n)} for n in range(items)]
    requests.post(f"{api}/datasets/bench/items", json=body, timeout=60).raise_for_status()


def run_once(api: str, fake: FakeOpenAI, args: argparse.Namespace, number: int) -> dict:
    name = f"bench-{number}"
    body = {"name": name, "dataset": "bench", "model": "gpt-4o-mini", "endpoint": fake.url,
            "max_concurrency": args.concurrency}
    started = time.perf_counter()
    requests.post(f"{api}/experiments", json=body, timeout=30).raise_for_status()
    answered, listed = None, {}
    while listed.get("status") not in ("done", "failed"):
        time.sleep(POLL_SECONDS)
        listed = listing(api, name)  # the list has progress without the results: a light poll
        if answered is None and listed["items_done"] == args.items:
            answered = time.perf_counter() - started
    finished = time.perf_counter() - started
    found = requests.get(f"{api}/experiments/{name}", timeout=30).json()
    ideal = math.ceil(args.items / args.concurrency) * args.latency_ms / 1000
    return {"run": number, "answered_s": answered, "done_s": finished, "ideal_s": ideal, "status": found["status"],
            "errors": found.get("errors"), "passed": found.get("passed"), "load_1m": round(os.getloadavg()[0], 1)}


def listing(api: str, name: str) -> dict:
    experiments = requests.get(f"{api}/experiments", timeout=30).json()["experiments"]
    return next(e for e in experiments if e["name"] == name)


def print_table(runs: list[dict], args: argparse.Namespace) -> None:
    print(f"\n{args.items} items, concurrency {args.concurrency}, endpoint latency {args.latency_ms:g} ms\n")
    print("| run | all answered s | over ideal | done s (read back, scored) | ideal s | status | errors | load |")
    print("|---|---|---|---|---|---|---|---|")
    for r in runs:
        over = f"{100 * (r['answered_s'] / r['ideal_s'] - 1):+.1f}%" if r["answered_s"] else "-"
        answered = f"{r['answered_s']:.2f}" if r["answered_s"] else "-"
        print(f"| {r['run']} | {answered} | {over} | {r['done_s']:.2f} | {r['ideal_s']:.2f} | {r['status']} | "
              f"{r['errors']} | {r['load_1m']} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-experiment-") as workdir:
        process, api = start_server(Path(workdir))
        try:
            post_dataset(api, args.items)
            with FakeOpenAI(latency=args.latency_ms / 1000) as fake:
                runs = [run_once(api, fake, args, n) for n in range(1, args.runs + 1)]
        finally:
            process.terminate()
            process.wait(60)
    print_table(runs, args)


if __name__ == "__main__":
    main()
