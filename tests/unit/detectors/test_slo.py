"""SLOs: burn-rate and error-budget arithmetic against hand-computed figures, and SLO validation."""

from __future__ import annotations

from datetime import timedelta

import pytest

from detectors.alerts.rules import AlertInputError
from detectors.slo.burn import (
    BURN_ALERTS,
    alert_breached,
    burn_rate,
    burn_rates,
    error_budget,
    error_ratio,
)
from detectors.slo.spec import SloError, SloSpec, parse_slo, stored_slo

PAGE, TICKET = BURN_ALERTS


def test_burn_rate_is_the_error_ratio_over_the_allowed_ratio() -> None:
    # 99% target: 1% may fail. 30 bad in 1,000 is 3% -> 3x; 144 bad in 1,000 -> 14.4x.
    assert error_ratio((970, 1000)) == pytest.approx(0.03)
    assert burn_rate((970, 1000), 0.99) == pytest.approx(3.0)
    assert burn_rate((856, 1000), 0.99) == pytest.approx(14.4)
    assert burn_rate((999, 1000), 0.999) == pytest.approx(1.0)  # exactly on budget
    assert burn_rate((0, 0), 0.99) is None  # no event, no evidence


def test_error_budget_of_a_hand_counted_window() -> None:
    # 28 days, 99.5%: 20,000 calls allow 100 bad; 35 came, so 35% is spent and 65% is left.
    budget = error_budget((19_965, 20_000), 0.995)
    assert budget.allowed_bad == pytest.approx(100)
    assert (budget.consumed, budget.left) == (pytest.approx(0.35), pytest.approx(0.65))
    assert budget.sli == pytest.approx(0.99825)
    overspent = error_budget((19_750, 20_000), 0.995)  # 250 bad of 100 allowed
    assert (overspent.consumed, overspent.left) == (pytest.approx(2.5), pytest.approx(-1.5))
    empty = error_budget((0, 0), 0.995)
    assert (empty.consumed, empty.left, empty.sli) == (0.0, 1.0, None)


def test_the_workbook_pairs_need_both_windows_above_their_factor() -> None:
    # A hand-computed series at 99.9%: (good, total) per window.
    windows = {"5m": (480, 500), "30m": (2_970, 3_000), "1h": (5_910, 6_000), "6h": (35_700, 36_000),
               "24h": (143_500, 144_000)}
    rates = burn_rates(windows, 0.999)
    # 20/500 = 4% -> 40x; 30/3000 = 1% -> 10x; 90/6000 = 1.5% -> 15x; 300/36000 -> 8.33x; 500/144000 -> 3.47x
    assert rates == {"5m": pytest.approx(40), "30m": pytest.approx(10), "1h": pytest.approx(15),
                     "6h": pytest.approx(8.3333, rel=1e-4), "24h": pytest.approx(3.4722, rel=1e-4)}
    assert alert_breached(PAGE, rates) is True  # 15x and 40x > 14.4x
    assert alert_breached(TICKET, rates) is True  # 8.3x and 10x > 6x
    recovered = {**rates, "5m": 2.0, "30m": 5.0}  # the burn stopped: the short windows say so first
    assert alert_breached(PAGE, recovered) is False and alert_breached(TICKET, recovered) is False
    assert alert_breached(PAGE, {"1h": None, "5m": None}) is None  # no data: leave the alert as it is
    assert alert_breached(PAGE, {"1h": 20.0, "5m": None}) is False  # nothing in the last 5 minutes
    assert (PAGE.severity, PAGE.long, PAGE.short, PAGE.factor) == ("critical", "1h", "5m", 14.4)
    assert (TICKET.severity, TICKET.long, TICKET.short, TICKET.factor) == ("warning", "6h", "30m", 6.0)


def test_a_valid_slo_round_trips() -> None:
    body = {"name": "fast answers", "sli": "latency", "threshold": 800, "target": 0.99, "window": "28d",
            "filters": {"model": "gpt-4o"}, "channels": [1]}
    spec = parse_slo(body, known_channels={1})
    assert spec == SloSpec("fast answers", "latency", 0.99, timedelta(days=28), 800.0, (("model", "gpt-4o"),), (1,))
    assert stored_slo(spec.to_json()) == spec
    errors = parse_slo({"name": "ok", "sli": "errors", "target": 0.999, "window": "30d"}, known_channels=())
    assert errors.threshold is None


@pytest.mark.parametrize(("patch", "field", "message"), [
    ({"sli": "vibes"}, "sli", "unknown sli ('vibes'); known SLIs: latency, ttft, errors, hallucination"),
    ({"sli": None}, "sli", "unknown sli (missing)"),
    ({"window": "0s"}, "window", "window '0s' must be between 1h and 90d"),
    ({"window": None}, "window", "window is required"),
    ({"window": "28 days"}, "window", "is not a duration"),
    ({"target": 1}, "target", "target must be a number strictly between 0 and 1"),
    ({"target": 0}, "target", "strictly between 0 and 1"),
    ({"target": 99.9}, "target", "(99.9% is 0.999)"),
    ({"target": "0.99"}, "target", "strictly between 0 and 1"),
    ({"threshold": None}, "threshold", "threshold is required for the latency SLI"),
    ({"threshold": -5}, "threshold", "a positive number in ms"),
    ({"sli": "errors"}, "threshold", "the errors SLI takes no threshold"),
    ({"filters": {"colour": "red"}}, "filters", "colour"),
    ({"channels": [7]}, "channels", "channel 7 does not exist"),
    ({"speed": 1}, "speed", "unknown field 'speed'"),
    ({"name": ""}, "name", "name is required"),
])
def test_bad_slos_name_their_field(patch: dict, field: str, message: str) -> None:
    body = {"name": "n", "sli": "latency", "threshold": 500, "target": 0.99, "window": "28d", **patch}
    with pytest.raises(AlertInputError) as raised:
        parse_slo(body, known_channels={1})
    assert raised.value.field == field and message in raised.value.message
    assert raised.value.status == 400


def test_slo_error_is_an_alert_input_error() -> None:
    assert issubclass(SloError, AlertInputError)
