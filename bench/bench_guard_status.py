"""Latency of the guard status a gateway asks before each LLM call, at a fixed request rate.

    python bench/bench_guard_status.py [--rate 500] [--seconds 20] [--connections 16] [--json out.json]

Starts the real service (`llmpulse serve` as a subprocess on free ports, its own data dir),
defines a few guards (one opened by failed calls sent over OTLP and an alerts run, so answers
carry reasons), then sends GET /api/v1/guard/status at `--rate` requests a second for `--seconds`
over real HTTP: an asyncio client on keep-alive connections, open loop (each request has its
scheduled time; a slow answer does not slow the schedule down). Reported: p50/p95/p99/max of the
service time (request written → answer read) and of the latency from the scheduled time (which
also counts any wait for a free connection, so a stall is not hidden), the achieved rate, and
the answers' mix, and the server's CPU per request (from /proc, so it holds on a busy machine
too). Target (issue #24): p99 < 5 ms at 500 requests/s. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import requests

ROOT = Path(__file__).resolve().parent.parent
TARGET_P99_MS = 5.0
GUARDS = [
    {"name": "mini errors", "metric": "error_rate", "comparator": ">", "threshold": 0.5, "window": "5m",
     "cooldown": "10m", "filters": {"model": "gpt-4o-mini"}},
    {"name": "4o latency", "metric": "latency_p95_ms", "comparator": ">", "threshold": 20000, "window": "5m",
     "filters": {"model": "gpt-4o"}},
    {"name": "cost per call", "metric": "cost_per_request", "comparator": ">", "threshold": 1.0, "window": "1h"},
    {"name": "hallucinations", "metric": "hallucination_rate", "comparator": ">", "threshold": 0.1, "window": "1h"},
    {"name": "checkout spend", "metric": "cost_total", "comparator": ">", "threshold": 50, "window": "1h",
     "filters": {"service": "checkout"}},
]
QUERIES = [{"model": "gpt-4o-mini", "service": "checkout", "user": "u-1"}, {"model": "gpt-4o", "user": "u-2"},
           {"model": "claude-3-5-haiku"}, {}]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(data_dir: Path) -> tuple[subprocess.Popen, str, str]:
    otlp, ui = free_port(), free_port()
    log = (data_dir / "server.log").open("ab")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LLMPULSE_DETECTORS": "false"}
    process = subprocess.Popen([sys.executable, "-m", "llmpulse.cli", "serve", "--data-dir", str(data_dir / "data"),
                                "--otlp-port", str(otlp), "--ui-port", str(ui)], env=env, stdout=log,
                               stderr=subprocess.STDOUT, cwd=ROOT)
    ui_url, otlp_url = f"http://127.0.0.1:{ui}", f"http://127.0.0.1:{otlp}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if requests.get(ui_url + "/readyz", timeout=2).ok and requests.get(otlp_url + "/readyz", timeout=2).ok:
                return process, ui_url, otlp_url
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    process.kill()
    raise SystemExit(f"the server did not start: see {data_dir / 'server.log'}")


CALL_ATTRIBUTES = [
    {"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
    {"key": "gen_ai.provider.name", "value": {"stringValue": "openai"}},
    {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o-mini"}},
    {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "100"}},
    {"key": "gen_ai.usage.output_tokens", "value": {"intValue": "0"}},
]


def failed_calls(count: int) -> dict[str, Any]:
    """OTLP/JSON: `count` failed gpt-4o-mini calls in the last minute."""
    now = time.time_ns()
    spans = [{"traceId": f"{i + 1:032x}", "spanId": f"{i + 1:016x}", "name": "chat gpt-4o-mini", "kind": 3,
              "startTimeUnixNano": str(now - 60_000_000_000 + i * 1_000_000),
              "endTimeUnixNano": str(now - 59_000_000_000 + i * 1_000_000), "status": {"code": 2},
              "attributes": CALL_ATTRIBUTES} for i in range(count)]
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": "checkout"}}]}
    return {"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": spans}]}]}


def prepare(ui_url: str, otlp_url: str) -> None:
    for guard in GUARDS:
        answer = requests.post(ui_url + "/api/v1/guards", json=guard, timeout=30)
        answer.raise_for_status()
    requests.post(otlp_url + "/v1/traces", json=failed_calls(20), timeout=30).raise_for_status()
    time.sleep(1.0)  # the writer's flush interval
    runs = requests.post(ui_url + "/api/v1/detectors/run", json={"detectors": ["alerts"]}, timeout=300)
    runs.raise_for_status()
    deadline = time.monotonic() + 30
    while requests.get(ui_url + "/api/v1/guard/status", params=QUERIES[0], timeout=5).json()["state"] != "open":
        if time.monotonic() > deadline:
            raise SystemExit(f"the guard did not open: {runs.json()}")
        time.sleep(0.1)


async def _connection(host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(host, port)


async def _request(pool: asyncio.Queue, path: str, host: str) -> tuple[float, int, bytes]:
    reader, writer = await pool.get()
    try:
        started = time.perf_counter()
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\n\r\n".encode())
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:"))
        body = await reader.readexactly(length)
        return time.perf_counter() - started, int(head.split(b" ", 2)[1]), body
    finally:
        pool.put_nowait((reader, writer))


async def fire(ui_url: str, rate: float, seconds: float, connections: int, baseline: bool = False) -> dict[str, Any]:
    host_port = ui_url.removeprefix("http://")
    host, port = host_port.split(":")
    pool: asyncio.Queue = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(await _connection(host, int(port)))
    paths = [f"/api/v1/guard/status?{urlencode({'project': 'default', **q})}" for q in QUERIES]
    if baseline:  # the same load on /healthz (no work at all): what the HTTP stack and the machine cost
        paths = ["/healthz"]
    total, interval = int(rate * seconds), 1.0 / rate
    loop, begin = asyncio.get_running_loop(), time.perf_counter()

    async def one(i: int) -> tuple[float, float, int, bytes]:
        scheduled = begin + i * interval
        service, status, body = await _request(pool, paths[i % len(paths)], host_port)
        return time.perf_counter() - scheduled, service, status, body

    tasks = []
    for i in range(total):
        delay = begin + i * interval - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(loop.create_task(one(i)))
    results = await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - begin
    return summarize(results, elapsed)


def summarize(results: list[tuple[float, float, int, bytes]], elapsed: float) -> dict[str, Any]:
    def quantiles(values: list[float]) -> dict[str, float]:
        cuts = statistics.quantiles(values, n=100, method="inclusive")
        return {"p50_ms": round(cuts[49] * 1000, 2), "p95_ms": round(cuts[94] * 1000, 2),
                "p99_ms": round(cuts[98] * 1000, 2), "max_ms": round(max(values) * 1000, 2)}

    states = Counter((status, json.loads(body).get("state", "-")) for _, _, status, body in results)
    return {"requests": len(results), "seconds": round(elapsed, 2), "rate": round(len(results) / elapsed, 1),
            "service_time": quantiles([r[1] for r in results]), "from_schedule": quantiles([r[0] for r in results]),
            "answers": {f"{status} {state}": n for (status, state), n in sorted(states.items())}}


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (/proc; Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def with_cpu(pid: int, phase: Any) -> dict[str, Any]:
    """The phase's result plus the server's CPU per request: what the answer costs whatever the
    machine's load (latency under contention measures the machine as much as the code)."""
    before = cpu_seconds(pid)
    result = phase()
    result["server_cpu_ms_per_request"] = round((cpu_seconds(pid) - before) * 1000 / result["requests"], 3)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--baseline", action="store_true", help="also time /healthz under the same load")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="llmpulse-bench-guard-") as tmp:
        process, ui_url, otlp_url = start_server(Path(tmp))
        try:
            prepare(ui_url, otlp_url)
            asyncio.run(fire(ui_url, args.rate, 1.0, args.connections))  # warm-up, not reported
            result = with_cpu(process.pid, lambda: asyncio.run(fire(ui_url, args.rate, args.seconds,
                                                                     args.connections)))
            if args.baseline:
                result["healthz_baseline"] = with_cpu(process.pid, lambda: asyncio.run(
                    fire(ui_url, args.rate, args.seconds, args.connections, True)))
        finally:
            process.terminate()
            process.wait(60)
    result["load_average"] = os.getloadavg()
    result["target_p99_ms"] = TARGET_P99_MS
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
