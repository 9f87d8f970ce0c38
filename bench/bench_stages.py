"""CPU per span of each ingest stage, alone, against the budget of the ingest target.

    python bench/bench_stages.py [--batch 2000] [--rows 200000] [--json out.json]

`bench_ingest.py` says how fast the whole service is; this says where the CPU goes, stage by
stage, each measured in one thread with nothing else running, on the bench's own spans (OTel
GenAI chat spans, ~1.6 KB on the wire). The request path (check, spool append), the writer
(decode, normalize, price, column lists, Arrow) and the engine (embedded chDB: the INSERT with
merges stopped, then the merges the same rows cost once started, until none is left running)
are the steps every acknowledged span pays for. HTTP itself is not in it (see bench_ingest.py's
server CPU). The sum is a floor: under load, threads contend for the GIL and the two cores.

The target, 20,000 durable spans/s on one core, is a budget of 50 µs of CPU a span; the table
shows each stage's share of it. A benchmark prints figures; nothing here is asserted.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest_payload import build_template

from collector.check import check_traces
from collector.decode import decode_checked_traces
from collector.normalize import normalize_span
from collector.pricing import PriceBook, price_row
from collector.spool import Spool, SpoolRecord
from collector.transport import PROTOBUF_CONTENT_TYPE
from llmpulse.app import Llmpulse
from llmpulse.config import Settings
from schemas.clickhouse.columns import column_lists
from schemas.clickhouse.store import Store
from schemas.fields import SPAN_COLUMNS

TARGET_SPANS_PER_SECOND = 20_000
BUDGET_US = 1e6 / TARGET_SPANS_PER_SECOND  # one core
SPANS_TABLE = "spans"
IDS = ("trace_id", "span_id", "call_key")


def process_cpu() -> float:
    """CPU seconds of every thread of this process: chDB works in threads of its own."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def per_span_us(step: Callable[[], object], spans: int, repeats: int) -> float:
    """Best of `repeats` runs of `step` (over `spans` spans), in µs of CPU a span."""
    best = float("inf")
    for _ in range(repeats):
        start = time.thread_time()
        step()
        best = min(best, time.thread_time() - start)
    return best / spans * 1e6


def python_stages(body: bytes, spans: int, repeats: int, spool_dir: Path) -> tuple[dict[str, float], list[dict]]:
    checked = check_traces(body, PROTOBUF_CONTENT_TYPE)
    decoded = decode_checked_traces(checked).spans
    book, max_chars = PriceBook(), Settings().max_value_chars
    normalized = [normalize_span(s, "default", max_chars) for s in decoded]
    spool = Spool(spool_dir)
    record = SpoolRecord("default", "traces", PROTOBUF_CONTENT_TYPE, body)
    stages = {
        "check (request path)": per_span_us(lambda: check_traces(body, PROTOBUF_CONTENT_TYPE), spans, repeats),
        "spool append (request path)": per_span_us(lambda: spool.release(spool.append(record)), spans, repeats),
        "decode": per_span_us(lambda: decode_checked_traces(checked), spans, repeats),
        "normalize": per_span_us(lambda: [normalize_span(s, "default", max_chars) for s in decoded], spans, repeats),
        "price": per_span_us(lambda: [price_row(dict(r), book) for r in normalized], spans, repeats)
        - per_span_us(lambda: [dict(r) for r in normalized], spans, repeats),
    }
    priced = [dict(r) for r in normalized]
    for row in priced:
        price_row(row, book)
    stages["column lists"] = per_span_us(lambda: column_lists(priced, SPAN_COLUMNS), spans, repeats)
    spool.close()
    return stages, priced


def renumbered(table: pa.Table, batch_no: int) -> pa.Table:
    """The same rows under new ids, so no insert is a redelivery of another."""
    for name in IDS:
        i = table.schema.get_field_index(name)
        ids = [f"{batch_no:08x}-{value}" for value in table.column(i).to_pylist()]
        table = table.set_column(i, name, pa.array(ids, type=pa.string()))
    return table


def wait_for_merges(store: Store, quiet_polls: int = 4) -> None:
    """Until no merge has run for `quiet_polls` polls in a row: the rows' merge debt is paid."""
    quiet = 0
    while quiet < quiet_polls:
        running = store.client.query("SELECT count() FROM system.merges").result_rows[0][0]
        quiet = 0 if running else quiet + 1
        time.sleep(0.5)


def open_store(data_dir: Path) -> Store:
    """The embedded store the service opens on `data_dir` (its DSN, chDB cache and allocator), migrated."""
    store = Llmpulse(Settings(data_dir=data_dir)).store
    store.migrate()
    return store


def engine_cost(data_dir: Path, table: pa.Table, rows: int, merges: bool) -> float:
    """µs of process CPU a row: INSERTs of `table` under new ids, and with `merges` their merges."""
    store = open_store(data_dir)
    if not merges:
        store.client.command(f"SYSTEM STOP MERGES {store.table(SPANS_TABLE)}")
    batches = [renumbered(table, n) for n in range(rows // table.num_rows)]
    start = process_cpu()
    for batch in batches:
        store.insert_arrow(SPANS_TABLE, batch)
        store.release_memory()
    if merges:
        wait_for_merges(store)
    return (process_cpu() - start) / (len(batches) * table.num_rows) * 1e6


def engine_stages(priced: list[dict], rows: int, workdir: Path) -> dict[str, float]:
    """Arrow build, INSERT alone and merges, each in µs a row; each engine run in a child process."""
    store = open_store(workdir / "schema")
    columns = column_lists(priced, SPAN_COLUMNS)
    stages = {"Arrow table": per_span_us(lambda: store.arrow_table(SPANS_TABLE, SPAN_COLUMNS, columns), len(priced), 3)}
    table = store.arrow_table(SPANS_TABLE, SPAN_COLUMNS, columns)
    inserts = _in_child(workdir / "inserts", table, rows, merges=False)
    with_merges = _in_child(workdir / "merges", table, rows, merges=True)
    stages["engine: INSERT"] = inserts
    stages["engine: merges"] = max(with_merges - inserts, 0.0)
    return stages


def _in_child(data_dir: Path, table: pa.Table, rows: int, merges: bool) -> float:
    """chDB allows one engine a process, so each engine run gets a fresh process of its own."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        return pool.apply(engine_cost, (data_dir, table, rows, merges))


def print_table(stages: dict[str, float], batch: int, rows: int) -> None:
    total = sum(stages.values())
    print(f"\nCPU per span, each stage alone in one thread ({batch}-span requests, {rows:,} rows into the engine)\n")
    print(f"| stage | µs a span | share of the {BUDGET_US:.0f} µs budget |")
    print("|---|---|---|")
    for name, us in stages.items():
        print(f"| {name} | {us:.1f} | {us / BUDGET_US:.0%} |")
    print(f"| **sum** | **{total:.1f}** | **{total / BUDGET_US:.0%}** |")
    print(f"\nAt this cost one core makes at most {1e6 / total:,.0f} spans/s and two cores "
          f"{2e6 / total:,.0f} (no contention); the target is {TARGET_SPANS_PER_SECOND:,} on one core.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=2000, help="spans a request, and rows an INSERT")
    parser.add_argument("--rows", type=int, default=200_000, help="rows inserted into the engine per run")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    body = build_template(args.batch).render(1)
    with tempfile.TemporaryDirectory() as tmp:
        stages, priced = python_stages(body, args.batch, args.repeats, Path(tmp) / "spool")
        stages |= engine_stages(priced, args.rows, Path(tmp))
    print_table(stages, args.batch, args.rows)
    if args.json:
        args.json.write_text(json.dumps({"batch": args.batch, "rows": args.rows, "us_per_span": stages}, indent=2))


if __name__ == "__main__":
    main()
