"""The trace list: every sort in both directions, pages that add up, and filters, over real spans."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.conftest import Running, make_settings, start_service
from tests.spans import PROTOBUF, Call, export_calls

NOW_NS = time.time_ns() - 3_600 * 10**9


def trace_id(n: int) -> str:
    return f"{n:032x}"


@pytest.fixture(scope="module")
def listed(tmp_path_factory: pytest.TempPathFactory, chdb_dsn: str) -> Iterator[Running]:
    """Six traces whose start, duration, calls, errors and tokens all order differently."""
    running = start_service(make_settings(tmp_path_factory.mktemp("trace-list"), chdb_dsn))
    calls = []
    for n, (minute, duration, count, errors, tokens) in enumerate(
            [(1, 900, 1, 0, 50), (2, 100, 3, 1, 10), (3, 500, 2, 0, 400), (4, 300, 1, 1, 30),
             (5, 700, 4, 2, 5), (6, 200, 2, 0, 90)], start=900):
        for span in range(1, count + 1):
            calls.append(Call(n, span, start_ns=NOW_NS + minute * 60 * 10**9, duration_ms=duration,
                              error=span <= errors, input_tokens=tokens, output_tokens=0, session=f"s-{n % 3}"))
    assert running.post_otlp("/v1/traces", export_calls(*calls), PROTOBUF).status_code == 200
    running.flush()
    yield running
    running.service.stop()


def ids(running: Running, **params: object) -> list[int]:
    body = running.get("/api/v1/traces", **{"from": (NOW_NS / 1e9) - 60, "to": (NOW_NS / 1e9) + 600,
                                             **params}).json()
    return [int(t["trace_id"], 16) for t in body["traces"]]


@pytest.mark.parametrize(("sort", "expected"), [
    ("start_time", [905, 904, 903, 902, 901, 900]),
    ("duration_ms", [900, 904, 902, 903, 905, 901]),
    ("llm_calls", [904, 901, 902, 905, 900, 903]),
    ("errors", [904, 901, 903, 900, 902, 905]),
    ("tokens", [902, 905, 900, 901, 903, 904]),
    ("cost", [902, 905, 900, 901, 903, 904]),  # one model: cost follows tokens
])
def test_every_sort_orders_both_ways_with_the_trace_id_breaking_ties(listed: Running, sort: str,
                                                                      expected: list[int]) -> None:
    assert ids(listed, sort=sort) == expected
    ascending = ids(listed, sort=sort, order="asc")
    assert sorted(ascending) == sorted(expected)
    if sort in ("start_time", "duration_ms"):  # no ties: ascending is the exact reverse
        assert ascending == expected[::-1]
    assert ids(listed, sort=sort, limit=2, offset=2) == expected[2:4]


def test_pages_add_up_and_filters_narrow_the_total(listed: Running) -> None:
    window = {"from": (NOW_NS / 1e9) - 60, "to": (NOW_NS / 1e9) + 600}
    pages = [listed.get("/api/v1/traces", limit=4, offset=o, **window).json() for o in (0, 4)]
    assert [p["total"] for p in pages] == [6, 6] and len(pages[0]["traces"]) + len(pages[1]["traces"]) == 6
    assert sorted(ids(listed, status="error")) == [901, 903, 904]
    assert sorted(ids(listed, status="ok")) == [900, 902, 905]
    assert len(ids(listed, model="gpt-4o-mini")) == 6 and ids(listed, model="no-such-model") == []
    assert sorted(ids(listed, session="s-0", sort="duration_ms")) == [900, 903]
    first = listed.get("/api/v1/traces", status="error", limit=1, **window).json()
    assert first["total"] == 3 and [int(t["trace_id"], 16) for t in first["traces"]] == [904]
    (row,) = [t for t in pages[0]["traces"] + pages[1]["traces"] if int(t["trace_id"], 16) == 904]
    assert (row["spans"], row["llm_calls"], row["errors"], row["tokens"]) == (4, 4, 2, 20)


MINUTE_NS = 60 * 10**9


@pytest.fixture(scope="module")
def long_window(tmp_path_factory: pytest.TempPathFactory, chdb_dsn: str) -> Iterator[Running]:
    """Traces over three days, one of them a straddler: a span 2 h ago and one 5 minutes ago."""
    running = start_service(make_settings(tmp_path_factory.mktemp("trace-page"), chdb_dsn))
    now = time.time_ns()
    starts = {700: [-30], 701: [-40], 702: [-120, -5], 703: [-180], 704: [-50 * 60], 705: [-50]}
    calls = [Call(n, span, start_ns=now + minutes * MINUTE_NS, duration_ms=10)
             for n, offsets in starts.items() for span, minutes in enumerate(offsets, start=1)]
    assert running.post_otlp("/v1/traces", export_calls(*calls), PROTOBUF).status_code == 200
    running.flush()
    yield running
    running.service.stop()


def newest(running: Running, **params: object) -> dict:
    window = {"from": time.time() - 3 * 86_400, "to": time.time() + 60, "count": "false"}
    return running.get("/api/v1/traces", **{**window, **params}).json()


def test_a_long_windows_newest_page_is_found_in_the_newest_hours_straddlers_ranked_by_their_first_span(
        long_window: Running) -> None:
    first = newest(long_window, limit=3)
    # 702 has a span 5 minutes ago, but its first span (2 h ago) ranks it after the traces of the last hour.
    assert [int(t["trace_id"], 16) for t in first["traces"]] == [700, 701, 705]
    assert first["total"] is None  # not counted: counting is the grouping this path avoids
    wider = newest(long_window, limit=4)["traces"]
    assert [int(t["trace_id"], 16) for t in wider] == [700, 701, 705, 702]
    assert wider[3]["spans"] == 2  # both of the straddler's spans, in the facts
    deep = newest(long_window, limit=2, offset=4)  # beyond the steps: the whole window is grouped
    assert [int(t["trace_id"], 16) for t in deep["traces"]] == [703, 704] and deep["total"] == 6
    counted = newest(long_window, limit=3, count="true")
    assert counted["total"] == 6 and counted["traces"] == first["traces"]  # the API counts unless told not to
    day = newest(long_window, limit=3, **{"from": time.time() - 86_400})
    assert day["total"] == 5  # a shorter window is always grouped whole, and counted
