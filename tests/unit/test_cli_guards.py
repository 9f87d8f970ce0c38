"""The guards CLI's pure parts: how `--trickle` reads, and how a status answer is told."""

from __future__ import annotations

import click
import pytest

from llmpulse.cli_guards import parse_trickle, verdict_text


@pytest.mark.parametrize(("text", "body"), [
    ("0.1", {"fraction": 0.1}), (" 10% ", {"fraction": 0.1}), ("1", {"fraction": 1.0}),
    ("6/min", {"per_minute": 6}), ("12 / minute", {"per_minute": 12}),
    ("1.5", {"fraction": 1.5}),  # the server refuses it, naming trickle.fraction
])
def test_a_trickle_is_a_fraction_or_calls_a_minute(text: str, body: dict) -> None:
    assert parse_trickle(text) == body


@pytest.mark.parametrize("text", ["lots", "6/hour", "1.5/min", ""])
def test_a_trickle_that_cannot_be_read_is_a_usage_error(text: str) -> None:
    with pytest.raises(click.BadParameter, match="is not a fraction"):
        parse_trickle(text)


def test_a_verdict_names_each_reason_in_the_metric_unit() -> None:
    answer = {"allowed": False, "state": "half_open", "retry_after_s": 10, "reasons": [
        {"guard": "slow", "state": "half_open", "signal": "latency_p95_ms", "value": 9120.0, "comparator": ">",
         "threshold": 8000, "window": "5m", "filters": {}},
        {"guard": "budget 2", "state": "open", "signal": "budget_used_pct", "value": 120.0, "comparator": ">=",
         "threshold": 100.0, "window": "day", "filters": {"user": "bob"}}]}
    assert verdict_text(answer) == ("refused: retry in 10 s (half-open)\n"
                                    "  slow half-open: latency_p95_ms 9,120 ms > 8,000 ms over 5m\n"
                                    "  budget 2 OPEN: budget_used_pct 120.0% >= 100.0% over day (user=bob)")
    assert verdict_text({"allowed": True, "state": "closed", "retry_after_s": 0, "reasons": []}) == \
        "allowed (closed)"
