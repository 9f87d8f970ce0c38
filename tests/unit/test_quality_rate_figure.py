"""The Quality page's rate chart with one scored hour: its sample-size bar is most of an hour wide
(plotly draws a lone bar on a date axis one millisecond wide), and the axis is the whole range."""

from __future__ import annotations

from datetime import UTC, datetime

from dashboard.ui.pages.quality import rate_figure
from dashboard.ui.urls import parse_query

NOW = datetime(2026, 12, 7, 16, 0, tzinfo=UTC)


def test_one_scored_hour_draws_a_bar_most_of_an_hour_wide() -> None:
    query = parse_query("?range=24h", NOW)
    figure = rate_figure([{"t": "2026-12-07T15:00:00+00:00", "flagged": 1, "sampled": 3}], query)
    (bars,) = [trace for trace in figure.data if trace.type == "bar"]
    assert list(bars.width) == [0.8 * 3_600_000] and list(bars.y) == [3]
    assert query.bucket == "hour"
