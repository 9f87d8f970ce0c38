"""What a comparison of two windows answers: the verdict, every test behind it, and the floors it used."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

NUMERIC, FLAG, CATEGORICAL = "numeric", "flag", "categorical"


@dataclass(frozen=True)
class EffectFloors:
    """The smallest change worth an event, per kind of feature: in big windows every trifle is significant."""

    cliffs_delta: float = 0.147  # numeric: Romano et al. (2006) call |δ| < 0.147 negligible
    rate_points: float = 0.02  # flags: a refusal or error rate must move by 2 points to matter to an operator
    share_points: float = 0.05  # categories: a share must move 5 points; mixes also follow the traffic
    auc: float = 0.6  # classifier: below it the windows are barely told apart, however significant


DEFAULT_FLOORS = EffectFloors()


@dataclass(frozen=True)
class FeatureShift:
    """One feature's two-sample test: summaries per window, the change, its effect size, the verdict."""

    name: str
    kind: str  # numeric | flag | categorical
    test: str
    statistic: float
    p_value: float
    p_adjusted: float  # Holm across every test of the report, the classifier's included
    baseline: float | Mapping[str, float]  # median, rate, or category shares
    current: float | Mapping[str, float]
    change: float  # relative median change; rate difference; largest share difference
    effect: float  # Cliff's delta; Cohen's h; Cramér's V
    moved: bool
    category: str = ""  # categoricals: the category whose share moved most


@dataclass(frozen=True)
class ShiftReport:
    """What the drift job stores: the verdict, every test behind it, when it began, and one sentence."""

    drifted: bool
    features: tuple[FeatureShift, ...]  # moved first, then by p-value
    auc: float | None
    auc_p_value: float | None  # one-sided, Bonferroni over the folds, before Holm
    changed_at: float | None  # epoch seconds
    baseline_n: int
    current_n: int
    reason: str
    classifier_moved: bool = False
    skipped: tuple[str, ...] = ()  # features with too few values in a window to test

    @property
    def moved(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.features if f.moved)
