"""schemas.bucket_quantiles: quantiles from bucket counts, checked by hand."""

from __future__ import annotations

import pytest

from schemas.bucket_quantiles import Buckets, estimate_quantiles


def test_one_histogram_interpolates_linearly_within_its_bucket() -> None:
    # 2 in (0, 100], 5 in (100, 500], 4 in (500, 1000]: p50 is the 5.5th of 11.
    found = estimate_quantiles([Buckets([100, 500, 1000, 2000], [2, 5, 4, 0, 0])], (0.5, 0.95, 1.0))
    assert found[0.5] == pytest.approx(100 + 3.5 / 5 * 400)
    assert found[0.95] == pytest.approx(500 + 3.45 / 4 * 500)
    assert found[1.0] == pytest.approx(1000)


def test_histograms_with_other_bounds_are_merged_by_their_distributions() -> None:
    # 10 in (0, 10] and 10 in (0, 20]: below x ≤ 10 lie x + x/2 of them, so 15 (75 %) below 10,
    # and the median (10th) at 20/3; above 10 only the second's: 17.5 (87.5 %) below 15.
    found = estimate_quantiles([Buckets([10], [10, 0]), Buckets([20], [10, 0])], (0.5, 0.75, 0.875))
    assert found[0.5] == pytest.approx(20 / 3)
    assert found[0.75] == pytest.approx(10)
    assert found[0.875] == pytest.approx(15)


def test_a_first_bound_of_zero_and_the_overflow_bucket_are_point_masses() -> None:
    found = estimate_quantiles([Buckets([0, 5], [2, 0, 2])], (0.25, 0.5, 0.99))
    assert (found[0.25], found[0.5], found[0.99]) == (0, 0, 5)  # the overflow reads as its bound


def test_no_observations_no_quantiles() -> None:
    assert estimate_quantiles([Buckets([1, 2], [0, 0, 0]), Buckets([], [3])], (0.5,)) == {0.5: None}


def test_the_observed_extremes_narrow_coarse_and_open_buckets() -> None:
    # OpenLLMetry's seconds in buckets 0, 5, 10 …: three calls between 0.1 and 0.3 s all in (0, 5].
    found = estimate_quantiles([Buckets([0, 5, 10], [0, 3, 0, 0], 0.1, 0.3)], (0.5, 1.0))
    assert found[0.5] == pytest.approx(0.2) and found[1.0] == pytest.approx(0.3)
    overflow = estimate_quantiles([Buckets([1, 2], [0, 0, 2], 3.0, 7.0)], (0.5,))
    assert overflow[0.5] == pytest.approx(5.0)  # (2, ∞) closed at the largest observation, 7
    one = estimate_quantiles([Buckets([1, 2], [0, 1, 0], 1.5, 1.5)], (0.5, 0.99))
    assert one == {0.5: 1.5, 0.99: 1.5}  # a single observation is exact
