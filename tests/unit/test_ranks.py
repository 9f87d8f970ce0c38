"""The NumPy two-sample tests of A/B cohorts give SciPy's answers (SciPy is the reference here)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from scipy.stats import fisher_exact, mannwhitneyu, rankdata

from detectors.shift.ranks import average_ranks, fisher_exact_p, holm, mann_whitney, normal_sf


def test_ranks_share_ties_as_scipy_does() -> None:
    values = np.array([3.0, 1.0, 3.0, 2.0, 3.0, 1.0])
    assert average_ranks(values).tolist() == rankdata(values).tolist()


@pytest.mark.parametrize(("shift", "sizes", "rounding"), [
    (0.0, (10, 12), None), (0.3, (200, 150), None), (1.0, (20_000, 20_000), None),
    (0.1, (500, 700), 0),  # integer token counts: many ties
    (0.0, (40, 40), -3),  # a handful of distinct values
])
def test_mann_whitney_matches_scipy(shift: float, sizes: tuple[int, int], rounding: int | None) -> None:
    rng = np.random.default_rng(7)
    x, y = rng.lognormal(6, 1, sizes[0]), rng.lognormal(6 + shift, 1, sizes[1])
    if rounding is not None:
        x, y = np.round(x, rounding), np.round(y, rounding)
    expected = mannwhitneyu(x, y, alternative="two-sided")
    u, p = mann_whitney(x, y)
    assert u == pytest.approx(expected.statistic, rel=1e-12)
    assert p == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)


def test_identical_samples_have_p_one() -> None:
    assert mann_whitney(np.ones(15), np.ones(20))[1] == 1.0 == mannwhitneyu(np.ones(15), np.ones(20)).pvalue


@pytest.mark.parametrize("table", [
    [[1, 99], [6, 94]], [[0, 1000], [5, 995]], [[3, 3], [3, 3]], [[10, 2], [1, 12]], [[0, 50], [0, 40]],
    [[2, 1_666_665], [9, 1_666_658]], [[7, 0], [0, 7]], [[1, 20], [20, 1]],
])
def test_fisher_matches_scipy(table: list[list[int]]) -> None:
    assert fisher_exact_p(table) == pytest.approx(fisher_exact(table)[1], rel=1e-9)


def test_normal_tail_and_holm() -> None:
    assert normal_sf(1.959963984540054) == pytest.approx(0.025)
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])


def test_the_comparison_imports_no_scipy() -> None:
    code = "import sys, dashboard.api_cohorts; print('scipy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", out.stderr
