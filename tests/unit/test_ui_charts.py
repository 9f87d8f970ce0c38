"""The time charts' shared pieces: bucket sizes that fit a range, the range as the x-axis, the grid."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dashboard.ui import charts

END = datetime(2026, 11, 20, 14, 37, 12, 500_000, tzinfo=UTC)


@pytest.mark.parametrize(("span", "bucket", "points"), [
    (timedelta(hours=1), "minute", 61), (timedelta(days=1), "hour", 25), (timedelta(days=7), "hour", 169),
    (timedelta(days=30), "day", 31), (timedelta(days=400), "day", 401)])
def test_each_range_gets_a_bucket_that_keeps_it_readable(span: timedelta, bucket: str, points: int) -> None:
    assert charts.bucket_for(END - span, END) == bucket
    assert len(charts.bucket_grid(END - span, END, bucket)) == points  # the partial first bucket included


def test_the_axis_is_the_range_in_naive_utc_whatever_the_data() -> None:
    start = END - timedelta(days=7)
    figure = charts.time_figure([charts.time_line("requests", ["2026-11-20 14:00:00.000"], [3])], start, END,
                                xaxis={"title": "t"})
    assert figure["layout"]["xaxis"] == {"title": "t", "type": "date", "autorange": False,
                                         "range": ["2026-11-13 14:37:12.500", "2026-11-20 14:37:12.500"]}
    assert figure["data"][0]["mode"] == "lines+markers"


def test_the_first_bucket_is_drawn_at_the_range_start_and_empty_buckets_are_filled() -> None:
    start = END - timedelta(hours=3)
    grid = charts.bucket_grid(start, END, "hour")
    assert grid[0] == datetime(2026, 11, 20, 11, tzinfo=UTC) and grid[-1] == datetime(2026, 11, 20, 14, tzinfo=UTC)
    assert charts.bucket_times(grid, start)[:2] == ["2026-11-20 11:37:12.500", "2026-11-20 12:00:00.000"]
    points = [{"t": "2026-11-20T12:00:00+00:00", "requests": 4, "latency_p95_ms": 900.0}]
    assert charts.on_grid(points, grid, "requests", 0) == [0, 4, 0, 0]
    assert charts.on_grid(points, grid, "latency_p95_ms", None) == [None, 900.0, None, None]
