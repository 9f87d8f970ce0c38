"""Sustained OTLP/HTTP protobuf ingest of LLM spans: llmpulse (embedded ClickHouse) against Arize Phoenix.

    python bench/bench_ingest.py [--seconds 20] [--threads 4] [--batch-sizes 100,1000]
                                 [--phoenix-python /tmp/phoenix-venv/bin/python] [--json out.json]

Each system runs as a real subprocess on free ports with a fresh temp data directory (a fresh
one per batch size, so a backlog left by one phase never slows the next batch size). The client
replays pre-built ExportTraceServiceRequest bodies (see ingest_payload.py) from N threads with
keep-alive connections. Per batch size:

- warmup: 1 s, one thread, then up to 60 s for it to become queryable;
- full load: N closed-loop threads for --seconds. acked spans/s = spans answered 200 / wall time;
  durable spans/s = acked spans / time from phase start until all are queryable (llmpulse:
  `total.requests` of /api/v1/metrics/summary; Phoenix: its spans count over GraphQL). A system
  that has not drained after --drain-timeout is reported with the rate it made spans queryable
  over that time, marked "backlog";
- half load: paced at half the durable rate; ack p99 counted from each request's *scheduled*
  send time, so a stall is not hidden (no coordinated omission). Its durability is not awaited.
Peak RSS of the server process (with children) is sampled every 100 ms; 429/503 answers count
backpressure (the client backs off 200 ms on them, like an exporter).

The client runs on the same 2-core machine as the server, so it takes CPU from it: id patching is
~1 ms per 1,000-span request and sending is http.client; the report prints the client's CPU share.
A benchmark prints figures; nothing here is asserted.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import itertools
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest_payload import Template, build_template
from ingest_servers import Server, start_llmpulse, start_phoenix

TARGETS = {"durable_spans_per_s": 20_000, "ratio_vs_phoenix": 100, "half_load_ack_p99_ms": 50, "peak_rss_mb": 500}


class RssSampler(threading.Thread):
    """Samples the server's resident memory every 100 ms: its own, and with its children (llmpulse's
    detectors run SciPy and scikit-learn in a short-lived child process)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.process, self.samples = psutil.Process(pid), []
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(0.1):
            try:
                own = self.process.memory_info().rss
                children = sum(p.memory_info().rss for p in self.process.children(recursive=True))
                self.samples.append((time.perf_counter(), own + children, own))
            except psutil.Error:
                return

    def peak_mb(self, since: float = 0.0, children: bool = True) -> float:
        column = 1 if children else 2
        return round(max((s[column] for s in self.samples if s[0] >= since), default=0) / 2**20, 1)

    def stop(self) -> None:
        self._stop_event.set()


class Pacer:
    """Hands out evenly spaced send times to all threads (open-loop load at a fixed rate)."""

    def __init__(self, interval: float, start: float) -> None:
        self._interval, self._start, self._n = interval, start, itertools.count()

    def next_slot(self) -> float:
        slot = self._start + next(self._n) * self._interval
        if (delay := slot - time.perf_counter()) > 0:
            time.sleep(delay)
        return slot


@dataclass
class ThreadStats:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    acked_spans: int = 0


_REQUEST_NUMBERS = itertools.count(1)  # unique per request across threads and phases


def _post(conn: http.client.HTTPConnection, path: str, body: bytes, headers: dict) -> int:
    conn.request("POST", path, body, headers)
    response = conn.getresponse()
    response.read()
    return response.status


def _send(
    server: Server, conn: http.client.HTTPConnection, body: bytes, headers: dict
) -> tuple[int, http.client.HTTPConnection]:
    """POST once, and once more on a fresh connection if the kept-alive one was closed meanwhile."""
    for _ in range(2):
        try:
            return _post(conn, server.path, body, headers), conn
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection(server.host, server.port, timeout=60)
    return 0, conn


def _worker(
    server: Server, template: Template, deadline: float, stats: ThreadStats, pacer: Pacer | None, use_gzip: bool
) -> None:
    headers = {"Content-Type": "application/x-protobuf", **({"Content-Encoding": "gzip"} if use_gzip else {})}
    conn = http.client.HTTPConnection(server.host, server.port, timeout=60)
    while (scheduled := pacer.next_slot() if pacer else time.perf_counter()) < deadline:
        body = template.render(next(_REQUEST_NUMBERS))
        status, conn = _send(server, conn, gzip.compress(body, 1) if use_gzip else body, headers)
        stats.latencies.append(time.perf_counter() - scheduled)
        stats.statuses[status] += 1
        stats.acked_spans += template.spans if status == 200 else 0
        if status in (429, 503):
            time.sleep(0.2)
    conn.close()


def run_load(
    server: Server, template: Template, seconds: float, threads: int, rate: float | None, use_gzip: bool
) -> tuple[list[ThreadStats], float]:
    start = time.perf_counter()
    pacer = Pacer(template.spans / rate, start) if rate else None
    stats = [ThreadStats() for _ in range(threads)]
    workers = [
        threading.Thread(target=_worker, args=(server, template, start + seconds, s, pacer, use_gzip)) for s in stats
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return stats, time.perf_counter() - start


def _safe_count(server: Server) -> int | None:
    try:
        return server.count()
    except (OSError, KeyError, ValueError, TypeError):
        return None


def wait_durable(server: Server, expected: int, timeout: float) -> tuple[float, int, bool]:
    """Poll until the server shows `expected` spans: (when, last count, drained).

    "When" is the time the deciding poll was sent: the count it answers was true by then (a
    ClickHouse read sees the parts that exist when it starts), and a count query that itself
    takes seconds over a large table must not be billed to the write path.
    """
    deadline, last = time.perf_counter() + timeout, 0
    while True:
        asked = time.perf_counter()
        last = _safe_count(server) or last
        if last >= expected or asked >= deadline:
            return asked, last, last >= expected
        time.sleep(0.25)


def quantile_ms(values: list[float], q: float) -> float | None:
    if len(values) < 2:
        return round(values[0] * 1000, 1) if values else None
    return round(statistics.quantiles(values, n=1000, method="inclusive")[round(q * 1000) - 1] * 1000, 1)


@dataclass
class Phase:
    name: str
    batch: int
    seconds: float
    requests: int
    acked_spans: int
    acked_per_s: float
    ack_p50_ms: float | None
    ack_p99_ms: float | None
    backpressure: int  # 429 + 503 answers
    failures: int  # other non-200 answers and connection errors
    durable_per_s: float | None  # see the module docstring
    drained: bool
    durable_s: float | None
    peak_rss_mb: float
    peak_rss_alone_mb: float  # the server process without its children
    client_cpu_pct: float
    server_cpu_pct: float
    offered_rate: float | None = None


class Session:
    """One server under test; phases share its running total of acked spans."""

    def __init__(self, server: Server, args: argparse.Namespace) -> None:
        self.server, self.args = server, args
        self.proc = psutil.Process(server.process.pid)
        self.sampler = RssSampler(server.process.pid)
        self.sampler.start()
        self.expected = _safe_count(server) or 0
        self.idle_rss_mb = round(self.proc.memory_info().rss / 2**20, 1)

    def _server_cpu(self) -> float:
        return sum(self.proc.cpu_times()[:2]) + sum(sum(c.cpu_times()[:2]) for c in self.proc.children(True))

    def phase(
        self,
        name: str,
        template: Template,
        *,
        seconds: float,
        threads: int,
        rate: float | None = None,
        drain: float = 0.0,
    ) -> Phase:
        client0, server0, start = time.process_time(), self._server_cpu(), time.perf_counter()
        count0 = _safe_count(self.server) or 0
        stats, wall = run_load(self.server, template, seconds, threads, rate, self.args.gzip)
        client_cpu, server_cpu = time.process_time() - client0, self._server_cpu() - server0
        acked = sum(s.acked_spans for s in stats)
        self.expected += acked
        done, count, drained = wait_durable(self.server, self.expected, drain) if drain else (0, 0, False)
        statuses = sum((s.statuses for s in stats), Counter())
        latencies = [x for s in stats for x in s.latencies]
        elapsed = done - start
        durable = (acked / elapsed if drained else (count - count0) / elapsed) if drain else None
        return Phase(
            name,
            template.spans,
            round(wall, 2),
            sum(statuses.values()),
            acked,
            round(acked / wall),
            quantile_ms(latencies, 0.5),
            quantile_ms(latencies, 0.99),
            statuses[429] + statuses[503],
            sum(n for code, n in statuses.items() if code not in (200, 429, 503)),
            round(durable) if durable else None,
            drained,
            round(elapsed, 2) if drain else None,
            self.sampler.peak_mb(start),
            self.sampler.peak_mb(start, children=False),
            round(100 * client_cpu / wall),
            round(100 * server_cpu / wall),
            rate,
        )

    def close(self) -> tuple[float, float]:
        self.sampler.stop()
        return self.sampler.peak_mb(), self.sampler.peak_mb(children=False)


def describe(server: str, p: Phase) -> str:
    durable = "-" if p.durable_per_s is None else f"{p.durable_per_s:,}/s" + ("" if p.drained else " (backlog)")
    return (
        f"  {server:8} {p.name:6} batch {p.batch:5}: acked {p.acked_per_s:,}/s, durable {durable}, "
        f"ack p50 {p.ack_p50_ms} ms p99 {p.ack_p99_ms} ms, 429/503 {p.backpressure}, errors {p.failures}, "
        f"RSS {p.peak_rss_mb} MB ({p.peak_rss_alone_mb} without children), "
        f"CPU client {p.client_cpu_pct}% server {p.server_cpu_pct}%"
    )


def bench_batch(
    start: Callable[[Path], Server], template: Template, warm: Template, args: argparse.Namespace, workdir: Path
) -> dict:
    """Fresh server: warmup, full load, then half load paced from the full phase's durable rate."""
    server = start(workdir)
    session, phases = Session(server, args), []
    try:
        session.phase("warmup", warm, seconds=1.0, threads=1, drain=60)
        phases.append(
            session.phase("full", template, seconds=args.seconds, threads=args.threads, drain=args.drain_timeout)
        )
        if phases[0].durable_per_s:
            phases.append(
                session.phase(
                    "half",
                    template,
                    seconds=args.seconds,
                    threads=args.threads,
                    rate=phases[0].durable_per_s / 2,
                )
            )
        for phase in phases:
            print(describe(server.name, phase), flush=True)
    finally:
        peak, alone = session.close()
        server.stop()
    return {"phases": [asdict(p) for p in phases], "peak_rss_mb": peak, "peak_rss_alone_mb": alone,
            "idle_rss_mb": session.idle_rss_mb}


def bench_system(
    name: str, start: Callable[[Path], Server], templates: dict[int, Template], args: argparse.Namespace, tmp: Path
) -> dict:
    print(f"{name}:", flush=True)
    runs = {}
    for batch, template in templates.items():
        workdir = tmp / f"{name}-{batch}"
        workdir.mkdir()
        runs[batch] = bench_batch(start, template, templates[min(templates)], args, workdir)
    return {
        "batches": runs,
        "peak_rss_mb": max(r["peak_rss_mb"] for r in runs.values()),
        "peak_rss_alone_mb": max(r["peak_rss_alone_mb"] for r in runs.values()),
        "idle_rss_mb": max(r["idle_rss_mb"] for r in runs.values()),
    }


# --- report ---------------------------------------------------------------------------------------


def _phase(result: dict | None, batch: int, name: str) -> dict:
    if not result:
        return {}
    return next((p for p in result["batches"][batch]["phases"] if p["name"] == name), {})


def _cell(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if isinstance(value, int) or abs(value) >= 100 else f"{value:,.1f}"


def _verdict(value: float | None, target: float, at_most: bool = False) -> str:
    if value is None:
        return "?"
    return "ok" if (value <= target if at_most else value >= target) else "MISSED"


def _ratio(ours: float | None, theirs: float | None) -> str:
    return f"{ours / theirs:,.0f}x" if ours and theirs else "-"


def _durable(phase: dict) -> str:
    value = _cell(phase.get("durable_per_s"))
    return value if phase.get("drained", True) else f"{value} (backlog)"


def _rows(ours: dict, theirs: dict | None, batch: int) -> list[str]:
    full, half, p_full, p_half = (_phase(r, batch, n) for r in (ours, theirs) for n in ("full", "half"))
    ratio = _ratio(full.get("durable_per_s"), p_full.get("durable_per_s"))
    durable_ok = _verdict(full.get("durable_per_s"), TARGETS["durable_spans_per_s"])
    ratio_ok = "?" if ratio == "-" else _verdict(float(ratio[:-1].replace(",", "")), TARGETS["ratio_vs_phoenix"])
    p99_ok = _verdict(half.get("ack_p99_ms"), TARGETS["half_load_ack_p99_ms"], at_most=True)
    rows = [
        (
            "durable spans/s",
            _durable(full),
            _durable(p_full),
            ratio,
            f"≥ {TARGETS['durable_spans_per_s']:,} ({durable_ok}); ≥ {TARGETS['ratio_vs_phoenix']}x ({ratio_ok})",
        )
    ]
    plain = (
        ("acked spans/s", full, p_full, "acked_per_s"),
        ("ack p50 ms, full load", full, p_full, "ack_p50_ms"),
        ("ack p99 ms, full load", full, p_full, "ack_p99_ms"),
        ("429/503 answers, full load", full, p_full, "backpressure"),
        ("other errors, full load", full, p_full, "failures"),
        ("server CPU %, full load", full, p_full, "server_cpu_pct"),
        ("client CPU %, full load", full, p_full, "client_cpu_pct"),
        ("half load: offered spans/s", half, p_half, "offered_rate"),
    )
    rows += [(label, _cell(a.get(key)), _cell(b.get(key)), "", "") for label, a, b, key in plain]
    rows.append(
        (
            "half load: ack p99 ms",
            _cell(half.get("ack_p99_ms")),
            _cell(p_half.get("ack_p99_ms")),
            "",
            f"< {TARGETS['half_load_ack_p99_ms']} ({p99_ok})",
        )
    )
    return [f"| {label} | {batch:,} | {a} | {b} | {r} | {t} |" for label, a, b, r, t in rows]


def report(results: dict[str, dict], batches: list[int], args: argparse.Namespace) -> str:
    ours, theirs = results["llmpulse"], results.get("phoenix")
    lines = [
        f"OTLP/HTTP protobuf ingest: {args.seconds:g} s per phase, {args.threads} client threads, "
        f"{os.cpu_count()} CPUs shared by client and server, gzip {'on' if args.gzip else 'off'}",
        "",
        "| figure | spans/request | llmpulse | Phoenix | llmpulse/Phoenix | target |",
        "|---|---|---|---|---|---|",
    ]
    for batch in batches:
        lines += _rows(ours, theirs, batch)
    rss_ok = _verdict(ours["peak_rss_mb"], TARGETS["peak_rss_mb"], at_most=True)
    alone_ok = _verdict(ours["peak_rss_alone_mb"], TARGETS["peak_rss_mb"], at_most=True)
    for label, key, target in (
        ("peak RSS MB, with children", "peak_rss_mb", f"< {TARGETS['peak_rss_mb']} ({rss_ok})"),
        ("peak RSS MB, server process alone", "peak_rss_alone_mb", f"< {TARGETS['peak_rss_mb']} ({alone_ok})"),
        ("idle RSS MB after start", "idle_rss_mb", ""),
    ):
        lines.append(f"| {label} | all | {_cell(ours[key])} | {_cell(theirs and theirs[key])} | | {target} |")
    if not theirs:
        lines += ["", "Phoenix skipped: pass --phoenix-python /path/to/venv/bin/python (see bench/README.md)."]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="duration of each load phase")
    parser.add_argument("--threads", type=int, default=4, help="concurrent client connections")
    parser.add_argument("--batch-sizes", default="100,1000", help="spans per request, comma-separated")
    parser.add_argument(
        "--drain-timeout", type=float, default=180.0, help="how long to wait for acked spans to become queryable"
    )
    parser.add_argument("--gzip", action="store_true", help="gzip request bodies (costs client CPU)")
    parser.add_argument("--phoenix-python", help="python of a venv with arize-phoenix; Phoenix is skipped without")
    parser.add_argument("--skip-llmpulse", action="store_true", help="bench Phoenix only (no table)")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    batches = sorted(int(b) for b in args.batch_sizes.split(","))
    templates = {b: build_template(b) for b in batches}
    print("payloads: " + ", ".join(f"{b} spans = {len(t.body) / 1024:,.0f} KiB" for b, t in templates.items()))
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="llmpulse-bench-") as tmp:
        if not args.skip_llmpulse:
            results["llmpulse"] = bench_system("llmpulse", start_llmpulse, templates, args, Path(tmp))
        if args.phoenix_python:
            phoenix = lambda workdir: start_phoenix(args.phoenix_python, workdir)  # noqa: E731
            results["phoenix"] = bench_system("phoenix", phoenix, templates, args, Path(tmp))
        else:
            print("Phoenix skipped: no --phoenix-python given.")
    if "llmpulse" in results:
        print("\n" + report(results, batches, args))
    if args.json:
        config = {**vars(args), "json": str(args.json), "cpus": os.cpu_count()}
        args.json.write_text(json.dumps({"config": config, "targets": TARGETS, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
