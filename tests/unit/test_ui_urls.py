"""The UI's query string: presets, a custom from/to, and what a bad custom range falls back to."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from dash.exceptions import PreventUpdate

from dashboard.ui.urls import parse_query, search_with

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_a_preset_range_ends_now_and_an_unknown_one_is_the_default_day() -> None:
    week = parse_query("?range=7d&model=gpt-4o&project=shop", NOW)
    assert (week.range, week.start, week.end, week.filters, week.project) == (
        "7d", NOW - timedelta(days=7), NOW, {"model": "gpt-4o"}, "shop")
    assert parse_query("?range=99y", NOW).range == "24h"
    assert parse_query("", NOW).project == "default"


def test_a_custom_range_is_utc_when_naive_and_to_defaults_to_now() -> None:
    query = parse_query("?from=2026-11-20T08:30&to=2026-11-21T08:30", NOW)
    assert (query.range, query.start, query.end, query.notice) == (
        "custom", datetime(2026, 11, 20, 8, 30, tzinfo=UTC), datetime(2026, 11, 21, 8, 30, tzinfo=UTC), "")
    assert parse_query("?from=1763640000", NOW).end == NOW


@pytest.mark.parametrize(("search", "notice"), [
    ("?from=yesterday", "from='yesterday' is not a time"),
    ("?from=2026-11-22T00:00&to=2026-11-21T00:00", "from (2026-11-22 00:00) must be before to (2026-11-21 00:00)"),
    ("?from=2024-01-01T00:00&to=2026-01-01T00:00", "a range spans at most 400 days"),
])
def test_a_bad_custom_range_falls_back_to_the_preset_and_says_why(search: str, notice: str) -> None:
    query = parse_query(search + "&range=7d", NOW)
    assert (query.range, query.end - query.start) == ("7d", timedelta(days=7))
    assert query.notice.startswith("Custom range not used: ") and notice in query.notice


@pytest.mark.parametrize(("span", "bucket"), [(timedelta(hours=1), "minute"), (timedelta(hours=3), "minute"),
                                              (timedelta(days=1), "hour"), (timedelta(days=8), "hour"),
                                              (timedelta(days=30), "day")])
def test_the_chart_bucket_follows_the_span(span: timedelta, bucket: str) -> None:
    start = (NOW - span).isoformat()
    assert parse_query(f"?from={start.replace('+00:00', 'Z')}", NOW).bucket == bucket


def test_search_with_applies_changes_and_refuses_a_no_op() -> None:
    changed = search_with("?range=7d&model=a", {"from": "2026-11-20T00:00", "to": ""}, resets=("range",))
    assert changed == "?model=a&from=2026-11-20T00%3A00"
    with pytest.raises(PreventUpdate):
        search_with("?model=a", {"model": "a"})


def test_an_unknown_range_says_what_it_shows_instead() -> None:
    query = parse_query("?range=bogus", NOW)
    assert (query.range, query.start, query.end) == ("24h", NOW - timedelta(days=1), NOW)
    assert query.notice == "range=bogus is not one of 1h, 24h, 7d, 30d: showing the last 24h"
    assert parse_query("?range=7d", NOW).notice == "" and parse_query("", NOW).notice == ""
