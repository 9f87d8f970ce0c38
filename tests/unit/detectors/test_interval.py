"""Wilson intervals against published values (Newcombe 1998, Table I, method 3) and edge cases."""

from __future__ import annotations

import pytest

from detectors.scoring.interval import Rate, rate_with_interval, wilson_interval

# (successes, trials, low, high): Newcombe, Statistics in Medicine 17:857-872 (1998), Table I, Wilson
# score interval without continuity correction; 0/10 and 5/10 from the closed form z²/(n+z²) and
# symmetry, as tabulated by Brown, Cai & DasGupta (2001).
PUBLISHED = [
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0000, 0.1611),
    (1, 29, 0.0061, 0.1718),
    (0, 10, 0.0000, 0.2775),
    (5, 10, 0.2366, 0.7634),
]


@pytest.mark.parametrize(("successes", "trials", "low", "high"), PUBLISHED)
def test_matches_published_wilson_intervals(successes, trials, low, high):
    got = wilson_interval(successes, trials)
    assert got == (pytest.approx(low, abs=5e-5), pytest.approx(high, abs=5e-5))


def test_all_successes_mirror_no_successes():
    low, high = wilson_interval(10, 10)
    assert (round(1 - high, 4), round(1 - low, 4)) == (0.0, 0.2775)
    assert high == 1.0


def test_no_trials_means_nothing_is_known():
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_higher_confidence_gives_a_wider_interval():
    low95, high95 = wilson_interval(81, 263, 0.95)
    low99, high99 = wilson_interval(81, 263, 0.99)
    assert low99 < low95 < 81 / 263 < high95 < high99


def test_interval_shrinks_as_the_sample_grows():
    small, large = wilson_interval(3, 20), wilson_interval(300, 2000)
    assert large[1] - large[0] < small[1] - small[0]


@pytest.mark.parametrize(("successes", "trials"), [(-1, 10), (11, 10), (0, -1)])
def test_impossible_counts_are_rejected(successes, trials):
    with pytest.raises(ValueError, match="successes <= trials"):
        wilson_interval(successes, trials)


@pytest.mark.parametrize("confidence", [0.0, 1.0, 1.5])
def test_impossible_confidence_is_rejected(confidence):
    with pytest.raises(ValueError, match="confidence"):
        wilson_interval(1, 10, confidence)


def test_rate_carries_its_interval():
    rate = rate_with_interval(81, 263)
    assert isinstance(rate, Rate)
    assert (rate.flagged, rate.sampled) == (81, 263)
    assert rate.rate == pytest.approx(0.3080, abs=5e-5)
    assert (round(rate.ci_low, 4), round(rate.ci_high, 4)) == (0.2553, 0.3662)


def test_rate_of_an_empty_sample_is_zero_with_the_widest_interval():
    assert rate_with_interval(0, 0) == Rate(0, 0, 0.0, 0.0, 1.0)
