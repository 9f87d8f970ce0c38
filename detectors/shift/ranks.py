"""The two-sample tests the A/B comparison needs, in NumPy and `math` alone.

SciPy's import takes ~1.2 s and its memory stays mapped; the comparison answers in the UI process
within 2 s, so it cannot load it, nor wait for a worker that does. These reproduce SciPy's results
(tests/unit/test_ranks.py holds them against it): Mann-Whitney U as `mannwhitneyu(x, y)` computes
it for samples too large for the exact distribution (the normal approximation with the tie and
continuity corrections), and Fisher's exact test two-sided as `fisher_exact` sums it (the tables no
more probable than the one observed, within a relative 1e-7 as R does).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

_RELATIVE_TIE = 1 + 1e-7  # tables this close to the observed one's probability count as as extreme


def normal_sf(z: float) -> float:
    """P(Z > z) for a standard normal Z."""
    return 0.5 * math.erfc(z / math.sqrt(2))


def average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks from 1, ties sharing their mean rank (`scipy.stats.rankdata`'s default)."""
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    upper = np.cumsum(counts)
    return ((upper - (counts - 1) / 2)[inverse]).astype(float)


def mann_whitney(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """U of x against y and the two-sided p-value, by the normal approximation with the tie and
    continuity corrections; for samples of at least ~10 each, where SciPy takes it too."""
    n1, n2 = len(x), len(y)
    n = n1 + n2
    ranks = average_ranks(np.concatenate([x, y]))
    u1 = float(ranks[:n1].sum()) - n1 * (n1 + 1) / 2
    u = max(u1, n1 * n2 - u1)
    _, ties = np.unique(ranks, return_counts=True)
    tie_term = float((ties.astype(float) ** 3 - ties).sum())
    spread = math.sqrt(n1 * n2 / 12 * ((n + 1) - tie_term / (n * (n - 1))))
    centred = u - n1 * n2 / 2 - 0.5
    if spread == 0:  # every value equal: nothing differs
        return u1, 1.0
    return u1, min(1.0, max(0.0, 2 * normal_sf(centred / spread)))


def fisher_exact_p(table: Sequence[Sequence[int]]) -> float:
    """Two-sided p of Fisher's exact test on [[a, b], [c, d]]: the hypergeometric probability of
    every table with the same margins that is no more probable than this one. The probabilities
    come from the ratio of each table's to the next (exact to rounding even for millions of calls,
    where log-gamma differences of huge numbers lose eight digits)."""
    (a, b), (c, d) = table
    row, column, total = a + b, a + c, a + b + c + d
    if 0 in (row, c + d, column, b + d):
        return 1.0
    low, high = max(0, column - (c + d)), min(row, column)
    k = np.arange(low, high, dtype=float)
    steps = np.log(row - k) + np.log(column - k) - np.log(k + 1) - np.log(total - row - column + k + 1)
    log_weights = np.concatenate([[0.0], np.cumsum(steps)])
    weights = np.exp(log_weights - log_weights.max())
    extreme = weights[weights <= weights[a - low] * _RELATIVE_TIE]
    return min(1.0, float(math.fsum(extreme) / math.fsum(weights)))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values: family-wise error control without assuming independence."""
    m, running = len(p_values), 0.0
    adjusted = [1.0] * m
    for rank, i in enumerate(np.argsort(p_values, kind="stable")):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted
