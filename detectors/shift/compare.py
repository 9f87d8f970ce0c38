"""Two windows of calls compared: a test per feature, the classifier, Holm over all, and the date.

Pure compute: samples in, a frozen report out; the drift job owns the queries and the storage,
and runs this in a worker process (`detectors.worker`) to keep SciPy out of the service.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
from scipy.stats import chi2_contingency, fisher_exact, mannwhitneyu, rankdata

from detectors.shift.classifier import MIN_SEGMENT, ClassifierTest, classifier_test
from detectors.shift.ranks import holm
from detectors.shift.report import CATEGORICAL, DEFAULT_FLOORS, FLAG, NUMERIC, EffectFloors, FeatureShift, ShiftReport
from detectors.shift.sample import CallSample, merge_sparse, numeric_columns

DEFAULT_ALPHA = 0.001  # family-wise, after Holm: a drift event pages people, so false alarms must be rare
MIN_SAMPLES = 30  # per window and feature: below it the tests have no power and medians wobble
MAX_NAMED = 3  # moved features named in the reason; the rest are counted


def compare_windows(
    baseline: CallSample,
    current: CallSample,
    *,
    alpha: float = DEFAULT_ALPHA,
    min_samples: int = MIN_SAMPLES,
    min_effect: EffectFloors = DEFAULT_FLOORS,
) -> ShiftReport:
    """Test every feature and a classifier, Holm-correct them together, and date the change if any."""
    sizes = len(baseline), len(current)
    if min(sizes) < min_samples:
        reason = (f"Too few calls to compare: {sizes[0]} in the baseline and {sizes[1]} in the current "
                  f"window (at least {min_samples} each are needed).")
        return ShiftReport(False, (), None, None, None, *sizes, reason)
    tested, skipped = _test_features(baseline, current, min_samples)
    classifier = classifier_test(baseline, current)
    adjusted = holm([f.p_value for f in tested] + ([classifier.p_value] if classifier else []))
    features = _judge(tested, adjusted, alpha, min_effect)
    classifier_moved = classifier is not None and adjusted[-1] < alpha and classifier.auc >= min_effect.auc
    changed_at = _change_time(baseline, current, features, classifier if classifier_moved else None)
    drifted = classifier_moved or any(f.moved for f in features)
    reason = _describe(features, classifier, classifier_moved, changed_at)
    auc, auc_p = (classifier.auc, classifier.p_value) if classifier else (None, None)
    return ShiftReport(drifted, features, auc, auc_p, changed_at, *sizes, reason, classifier_moved, skipped)


def _judge(
    tested: list[FeatureShift], adjusted: list[float], alpha: float, floors: EffectFloors
) -> tuple[FeatureShift, ...]:
    judged = [
        replace(f, p_adjusted=p, moved=p < alpha and _meets_floor(f, floors))
        for f, p in zip(tested, adjusted, strict=False)
    ]
    return tuple(sorted(judged, key=lambda f: (not f.moved, f.p_adjusted, -abs(f.effect))))


def _meets_floor(shift: FeatureShift, floors: EffectFloors) -> bool:
    if shift.kind == NUMERIC:
        return abs(shift.effect) >= floors.cliffs_delta
    return abs(shift.change) >= (floors.rate_points if shift.kind == FLAG else floors.share_points)


# --- per-feature tests ---------------------------------------------------------------------------


def _test_features(
    baseline: CallSample, current: CallSample, min_samples: int
) -> tuple[list[FeatureShift], tuple[str, ...]]:
    tested, skipped = [], []
    base_numeric, cur_numeric = numeric_columns(baseline), numeric_columns(current)
    for name in base_numeric.keys() & cur_numeric.keys():
        b, c = _present(base_numeric[name]), _present(cur_numeric[name])
        if min(len(b), len(c)) < min_samples:
            skipped.append(name)
        else:
            tested.append(compare_numeric(name, b, c))
    for name in baseline.flags.keys() & current.flags.keys():
        base_flags, cur_flags = np.asarray(baseline.flags[name], bool), np.asarray(current.flags[name], bool)
        tested.append(compare_flag(name, base_flags, cur_flags))
    for name in baseline.categorical.keys() & current.categorical.keys():
        tested.append(_compare_categorical(name, baseline.categorical[name], current.categorical[name]))
    return sorted(tested, key=lambda f: f.name), tuple(sorted(skipped))


def _present(values: np.ndarray) -> np.ndarray:
    return values[~np.isnan(values)]


def compare_numeric(name: str, base: np.ndarray, cur: np.ndarray) -> FeatureShift:
    """Mann-Whitney U: skewed latencies and token counts need no normality; Cliff's delta is its effect."""
    u, p = mannwhitneyu(cur, base, alternative="two-sided")
    delta = 2 * u / (len(cur) * len(base)) - 1  # P(current > baseline) - P(current < baseline)
    b, c = float(np.median(base)), float(np.median(cur))
    change = (c - b) / abs(b) if b else (0.0 if c == b else math.nan)
    return FeatureShift(name, NUMERIC, "mann-whitney", float(u), float(p), float(p), b, c, change, float(delta), False)


def compare_flag(name: str, base: np.ndarray, cur: np.ndarray) -> FeatureShift:
    """Fisher's exact test: refusals and errors are rare, where the normal approximation misleads."""
    a, b = int(cur.sum()), int(base.sum())
    c, d = len(cur) - a, len(base) - b
    _, p = fisher_exact([[a, c], [b, d]])
    odds = (a + 0.5) * (d + 0.5) / ((c + 0.5) * (b + 0.5))  # Haldane-corrected: finite with empty cells
    rate_b, rate_c = b / len(base), a / len(cur)
    h = 2 * math.asin(math.sqrt(rate_c)) - 2 * math.asin(math.sqrt(rate_b))
    return FeatureShift(name, FLAG, "fisher exact", odds, float(p), float(p), rate_b, rate_c, rate_c - rate_b, h, False)


def _compare_categorical(name: str, base: Sequence[str], cur: Sequence[str]) -> FeatureShift:
    """Chi-square on the window-by-category table, sparse categories merged; Cramér's V is its effect."""
    merged = merge_sparse(base, cur)
    counts_b, counts_c = Counter(merged[x] for x in base), Counter(merged[x] for x in cur)
    labels = sorted(counts_b.keys() | counts_c.keys())
    table = np.array([[counts_b[k] for k in labels], [counts_c[k] for k in labels]])
    chi2, p = (0.0, 1.0) if len(labels) < 2 else chi2_contingency(table, correction=False)[:2]
    cramers_v = math.sqrt(chi2 / table.sum())  # two rows, so min(rows, columns) - 1 = 1
    shares_b = {k: counts_b[k] / len(base) for k in labels}
    shares_c = {k: counts_c[k] / len(cur) for k in labels}
    top = max(labels, key=lambda k: (abs(shares_c[k] - shares_b[k]), k))
    return FeatureShift(name, CATEGORICAL, "chi-square", float(chi2), float(p), float(p), shares_b, shares_c,
                        shares_c[top] - shares_b[top], cramers_v, False, top)


def estimate_change_time(times: np.ndarray, values: np.ndarray) -> float | None:
    """The best single split of the time-ordered series (least within-segment variance of ranks).

    Ranks make it indifferent to skew and scale; the time returned is midway between the last call
    of the old regime and the first of the new one.
    """
    keep = ~np.isnan(values) & ~np.isnan(times)
    order = np.argsort(times[keep], kind="stable")
    t, x = times[keep][order], rankdata(values[keep][order])
    n = len(x)
    if n < 2 * MIN_SEGMENT:
        return None
    k = np.arange(MIN_SEGMENT, n - MIN_SEGMENT + 1)  # calls before the split
    total, before = x.sum(), np.cumsum(x)[k - 1]
    gain = k * (n - k) / n * (before / k - (total - before) / (n - k)) ** 2
    split = int(k[np.argmax(gain)])
    return float((t[split - 1] + t[split]) / 2)


def _change_time(
    baseline: CallSample, current: CallSample, features: Sequence[FeatureShift], classifier: ClassifierTest | None
) -> float | None:
    """Date the change on the classifier's scores when it spoke (they weigh every feature), else on the top feature."""
    if classifier is not None:
        return estimate_change_time(classifier.times, classifier.scores)
    moved = [f for f in features if f.moved]
    if not moved:
        return None
    return estimate_change_time(np.r_[baseline.times, current.times], _series(moved[0], baseline, current))


def _series(shift: FeatureShift, baseline: CallSample, current: CallSample) -> np.ndarray:
    """The moved feature over both windows as numbers: values, 0/1 flags, or 1 where its top category is."""
    if shift.kind == NUMERIC:
        return np.r_[numeric_columns(baseline)[shift.name], numeric_columns(current)[shift.name]]
    if shift.kind == FLAG:
        return np.r_[baseline.flags[shift.name], current.flags[shift.name]].astype(float)
    base, cur = baseline.categorical[shift.name], current.categorical[shift.name]
    merged = merge_sparse(base, cur)
    return np.array([merged[x] == shift.category for x in (*base, *cur)], dtype=float)


# --- the sentence --------------------------------------------------------------------------------


def _describe(
    features: Sequence[FeatureShift], classifier: ClassifierTest | None, classifier_moved: bool,
    changed_at: float | None,
) -> str:
    moved = [f for f in features if f.moved]
    auc = f"AUC {classifier.auc:.2f}, p={classifier.p_value:.1g}" if classifier else "nothing to train on"
    if not moved and not classifier_moved:
        return f"No behaviour shift: no feature moved beyond its floor and a classifier could not tell ({auc})."
    parts = [_describe_feature(f) for f in moved[:MAX_NAMED]]
    if len(moved) > MAX_NAMED:
        parts.append(f"{len(moved) - MAX_NAMED} more")
    what = ", ".join(parts) if parts else "no single feature moved beyond its floor"
    verdict = "tells the windows apart" if classifier_moved else "does not tell the windows apart"
    when = f"; the change began around {_format_time(changed_at)}" if changed_at is not None else ""
    return f"Behaviour shifted: {what}; a classifier {verdict} ({auc}){when}."


def _describe_feature(shift: FeatureShift) -> str:
    if shift.kind == NUMERIC:
        b, c = shift.baseline, shift.current
        relative = "" if math.isnan(shift.change) else f" {shift.change:+.0%}"
        return f"{shift.name} median{relative} ({b:.4g} → {c:.4g})"
    if shift.kind == FLAG:
        return f"{shift.name} rate {shift.baseline:.1%} → {shift.current:.1%}"
    b, c = shift.baseline, shift.current
    assert isinstance(b, Mapping) and isinstance(c, Mapping)
    return f"{shift.name} '{shift.category}' {b[shift.category]:.0%} → {c[shift.category]:.0%}"


def _format_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")
