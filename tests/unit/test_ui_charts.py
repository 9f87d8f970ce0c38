"""The chart defaults every page shares: legends in words above the plot, money and shares on their axes;
and the time charts' pieces: bucket sizes that fit a range, the range as the x-axis, the grid."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dashboard.ui import charts


def test_a_legend_sits_above_the_plot_and_a_title_keeps_it() -> None:
    layout = charts.figure([{}, {}], title={"text": "Latency (ms)"})["layout"]
    assert layout["legend"]["orientation"] == "h" and layout["legend"]["yanchor"] == "bottom"
    assert layout["legend"]["y"] >= 1  # above the plot area, clear of the x axis's dates
    assert layout["title"]["text"] == "Latency (ms)" and layout["title"]["xanchor"] == "left"
    assert layout["margin"]["t"] > 40  # room for the title over the legend's row


def test_metric_ids_read_as_words() -> None:
    assert charts.metric_label("latency_p50_ms") == "p50 latency"
    assert charts.metric_label("prompt_cache_share") == "Prompt-cache share of input tokens"
    assert charts.metric_label("cache_hit_rate") == "App cache hits"
    assert charts.metric_label("some_new_metric") == "some new metric"


def test_shares_read_as_percent_and_money_in_dollars_without_an_exponent() -> None:
    assert charts.metric_axis(("cache_hit_rate", "prompt_cache_share"))["tickformat"] == ".0%"
    assert charts.metric_axis(("cost_total",))["tickprefix"] == "$"
    assert charts.metric_axis(("requests", "errors")) == {}
    line = charts.metric_line("cost_total", ["t0", "t1"], [3.6e-05, 0])
    assert line["customdata"] == ["$0.000036", "$0"] and "%{customdata}" in line["hovertemplate"]
    assert "customdata" not in charts.metric_line("requests", ["t0"], [3])


def test_the_toolbar_shows_on_hover_only() -> None:
    assert charts.GRAPH_CONFIG["displayModeBar"] == "hover"


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
    assert figure["layout"]["xaxis"] == {**charts.X_LABELS, "title": "t", "type": "date", "autorange": False,
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


def test_a_label_near_either_edge_stays_inside_the_plot() -> None:
    start = datetime(2026, 12, 6, tzinfo=UTC)
    end = start + timedelta(days=1)
    assert charts.anchor_in(end - timedelta(minutes=30), start, end) == "right"
    assert charts.anchor_in((start + timedelta(hours=1)).isoformat(), start, end) == "left"
    assert charts.anchor_in(start + timedelta(hours=12), start, end) == "center"
    assert charts.label(end, "model_change: gpt-4o-mini", xanchor="right")["xanchor"] == "right"
