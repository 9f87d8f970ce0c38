"""The trace list: every sort in both directions, pages that add up, and filters, over real spans."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.conftest import Running, make_settings, start_service
from tests.spans import Call

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
    running.send_calls(*calls)
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
    running.send_calls(*calls)
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


def test_a_page_past_the_last_trace_still_says_how_many_there_are(listed: Running) -> None:
    window = {"from": (NOW_NS / 1e9) - 60, "to": (NOW_NS / 1e9) + 600}
    for sort in ("start_time", "cost"):  # the page-first and the calls-first query
        past = listed.get("/api/v1/traces", limit=5, offset=60, sort=sort, **window).json()
        assert past["traces"] == [] and past["total"] == 6
        filtered = listed.get("/api/v1/traces", limit=5, offset=3, sort=sort, status="error", **window).json()
        assert filtered["traces"] == [] and filtered["total"] == 3


def test_times_carry_their_utc_offset(listed: Running) -> None:
    trace = listed.get("/api/v1/traces", **{"from": (NOW_NS / 1e9) - 60}).json()["traces"][0]
    assert trace["start_time"].endswith("+00:00") and trace["end_time"].endswith("+00:00")
    spans = listed.get(f"/api/v1/traces/{trace['trace_id']}").json()["spans"]
    assert spans[0]["start_time"].endswith("+00:00")


@pytest.mark.parametrize(("value", "message"), [
    ("inf", "is not a time in epoch seconds"), ("nan", "is not a time in epoch seconds"),
    ("1e20", "is not a time in epoch seconds"), ("1796647094108", "milliseconds or nanoseconds? divide them"),
])
def test_numbers_that_are_no_epoch_seconds_are_400s_that_say_why(listed: Running, value: str, message: str) -> None:
    for path in ("/api/v1/traces", "/api/v1/metrics/summary"):
        response = listed.get(path, **{"from": value})
        assert response.status_code == 400 and message in response.json()["error"], response.text


def test_times_beyond_what_storage_holds_mean_since_or_until_forever(listed: Running) -> None:
    for since in ("0500-01-01", "0001-01-01T00:00:00Z", "-62135596800"):
        response = listed.get("/api/v1/traces", **{"from": since, "to": "9999-12-31"})
        assert response.status_code == 200 and response.json()["total"] == 6, response.text
    summary = listed.get("/api/v1/metrics/summary", **{"from": "0001-01-01", "to": "9999-12-31"}).json()
    assert summary["total"]["requests"] == 13
    before_storage = listed.get("/api/v1/traces", to="0001-01-05")
    assert before_storage.status_code == 400 and "must be before" in before_storage.json()["error"]


@pytest.mark.parametrize("path", ["/api/v1/metrics/summry", "/api/v1/nonexistent", "/api/v1/traces/",
                                  "/api/v1/metrics", "/api/v1/traces/00000000000000000000000000000384/extra"])
def test_an_unknown_api_path_is_a_json_404_not_the_dashboard_page(listed: Running, path: str) -> None:
    response = listed.get(path)
    assert response.status_code == 404 and response.headers["Content-Type"] == "application/json"
    assert f"no API endpoint {path}" in response.json()["error"]
    assert listed.get("/traces").status_code == 200  # pages are still pages


def test_a_trace_whose_calls_have_no_price_costs_null_not_zero(running: Running) -> None:
    start = time.time_ns() - 60 * 10**9
    calls = [Call(7001, 1, model="no-such-model-anywhere", start_ns=start),
             Call(7002, 1, model="no-such-model-anywhere", start_ns=start),
             Call(7002, 2, start_ns=start, input_tokens=1_000_000, output_tokens=0)]
    running.send_calls(*calls)
    for sort in ("start_time", "cost"):
        listed = running.get("/api/v1/traces", **{"from": start / 1e9 - 60}, sort=sort).json()["traces"]
        by_id = {int(t["trace_id"], 16): t for t in listed}
        assert (by_id[7001]["cost"], by_id[7001]["cost_exact"], by_id[7001]["unpriced_calls"]) == (None, None, 1)
        assert by_id[7002]["cost"] > 0 and by_id[7002]["unpriced_calls"] == 1  # what is known, and what is not
    by_cost = running.get("/api/v1/traces", **{"from": start / 1e9 - 60}, sort="cost", order="asc").json()
    assert int(by_cost["traces"][-1]["trace_id"], 16) == 7001  # unknown cost sorts last, not as the cheapest
