"""The chart defaults every page shares: legends in words above the plot, money and shares on their axes."""

from __future__ import annotations

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
