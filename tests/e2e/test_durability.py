"""kill -9 under load: after a restart every acknowledged span is there, exactly once."""

from __future__ import annotations

import resource
import threading
from functools import partial
from pathlib import Path

import pytest
import requests
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from tests.conftest import wait_for
from tests.e2e.server import start_server
from tests.integration.test_ingest_edge import PROTOBUF, chat_span, export_body

SPANS_PER_TRACE = 40


def send_until_stopped(url: str, first_trace: int, acked: list[int], stop: threading.Event) -> None:
    trace = first_trace
    session = requests.Session()
    while not stop.is_set():
        body = export_body(*[chat_span(trace, i + 1, f"r{trace}-{i}") for i in range(SPANS_PER_TRACE)])
        try:
            if session.post(url, data=body, headers=PROTOBUF, timeout=10).status_code == 200:
                acked.append(trace)
        except requests.RequestException:
            return
        trace += 1


@pytest.mark.slow
def test_kill9_under_load_loses_no_acked_span(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    # A long flush interval keeps acknowledged rows in memory only, so the kill finds them there.
    env = {"LLMPULSE_FLUSH_SECONDS": "3", "LLMPULSE_BATCH_ROWS": "100000"}
    server = start_server(data_dir, env)
    acked: list[int] = []
    stop = threading.Event()
    senders = [threading.Thread(target=send_until_stopped,
                                args=(server.otlp_url + "/v1/traces", 1 + n * 1_000_000, acked, stop))
               for n in range(3)]
    for sender in senders:
        sender.start()
    # Kill once a batch is written and more spans are acknowledged after it, so that the restart
    # finds rows both in the store and only in the spool (a flush every 3 s, as once slept for).
    wait_for(lambda: stored_traces(server.ui_url) > 0, 30, "no batch was written under load", poll=0.2)
    written = len(acked)
    wait_for(lambda: len(acked) >= written + 3, 30, "no more traces acknowledged after the first batch")
    server.kill9()
    stop.set()
    for sender in senders:
        sender.join(15)
    assert len(acked) > 20, "too little load reached the server before the kill"
    assert list((data_dir / "spool").glob("*.spool")), "the kill should have left records in the spool"

    restarted = start_server(data_dir)
    try:
        traces = fetch_all_traces(restarted.ui_url)
        counts = {int(t["trace_id"], 16): (t["spans"], t["llm_calls"]) for t in traces}
        missing = [t for t in acked if t not in counts]
        assert not missing, f"{len(missing)} acknowledged traces lost, e.g. {missing[:3]}"
        assert all(counts[t] == (SPANS_PER_TRACE, SPANS_PER_TRACE) for t in acked)
        total = requests.get(restarted.ui_url + "/api/v1/metrics/summary", params={"from": "0"}, timeout=30).json()
        assert total["total"]["requests"] == SPANS_PER_TRACE * len(counts)
    finally:
        assert restarted.terminate() == 0


def stored_traces(ui_url: str) -> int:
    return requests.get(ui_url + "/api/v1/traces", params={"from": "0", "limit": 1}, timeout=30).json()["total"]


def limit_file_size(limit: int) -> None:
    """In the server's process: no file it writes may grow past `limit` bytes. The kernel then
    cuts a write short at the limit and refuses the next one (EFBIG), as when a disk fills up;
    Python ignores the SIGXFSZ that comes with it."""
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))


@pytest.mark.slow
def test_a_request_the_spool_disk_refuses_is_retryable_and_loses_no_other(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = {"LLMPULSE_FLUSH_SECONDS": "60", "LLMPULSE_BATCH_ROWS": "100000"}  # rows wait in memory and spool
    server = start_server(data_dir, env, preexec=partial(limit_file_size, 1 << 20))
    url = server.otlp_url + "/v1/traces"
    try:
        before = requests.post(url, data=export_body(chat_span(1, 1, "r1")), headers=PROTOBUF, timeout=10)
        big = chat_span(2, 1, "r2")
        # 1.5 MB: past the spool file's limit, under the 2 MB that waitress keeps in memory
        big.attributes.append(KeyValue(key="gen_ai.input.messages", value=AnyValue(string_value="x" * (3 << 19))))
        refused = requests.post(url, data=export_body(big), headers=PROTOBUF, timeout=10)
        after = requests.post(url, data=export_body(chat_span(3, 1, "r3")), headers=PROTOBUF, timeout=10)
    finally:
        server.kill9()
    assert before.status_code == 200 and after.status_code == 200
    assert ExportTraceServiceResponse.FromString(after.content).partial_success.rejected_spans == 0
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "5"  # OTLP exporters retry
    status = Status.FromString(refused.content)
    assert "could not write the request to its spool (File too large)" in status.message
    assert str(data_dir / "spool") in status.message

    restarted = start_server(data_dir)  # no limit now: the spool is replayed
    try:
        traces = {int(t["trace_id"], 16): t["spans"] for t in fetch_all_traces(restarted.ui_url)}
        assert traces == {1: 1, 3: 1}  # what was acknowledged, once; nothing of the refused request
    finally:
        assert restarted.terminate() == 0


def fetch_all_traces(ui_url: str) -> list[dict]:
    out: list[dict] = []
    while True:
        page = requests.get(ui_url + "/api/v1/traces", timeout=30,
                            params={"from": "0", "limit": 500, "offset": len(out)}).json()
        out += page["traces"]
        if len(out) >= page["total"] or not page["traces"]:
            return out
