"""Silent behaviour drift: did the calls behind one model name change between two windows, and when?

A provider can swap the model behind a name without a new version string; what betrays it is the
calls themselves. `compare_windows` sets a baseline window against a current one three ways:
a two-sample test per feature (Holm-corrected, and gated by a practical effect floor, so that big
windows do not raise trifles), a classifier two-sample test over every feature and the answer
text at once (it sees what no single column shows, such as a new style of answer), and the best
single split of the time-ordered calls, which dates the change. Pure compute: arrays in, a frozen
report out; the drift job owns the queries and the storage.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
from scipy.stats import chi2_contingency, fisher_exact, mannwhitneyu, rankdata
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

OUTPUT_TOKENS, LATENCY_PER_TOKEN, TTFT, SCORE = "output_tokens", "latency_per_token_ms", "ttft_ms", "score"
FINISH_REASON, REFUSAL, ERROR = "finish_reason", "refusal", "error"
ANSWER_CHARS = "answer_chars"  # derived from the text, so a change of answer length is named, not only seen
DEFAULT_NUMERIC = (OUTPUT_TOKENS, LATENCY_PER_TOKEN, TTFT, SCORE)
DEFAULT_CATEGORICAL = (FINISH_REASON,)
DEFAULT_FLAGS = (REFUSAL, ERROR)
NUMERIC, FLAG, CATEGORICAL = "numeric", "flag", "categorical"

DEFAULT_ALPHA = 0.001  # family-wise, after Holm: a drift event pages people, so false alarms must be rare
MIN_SAMPLES = 30  # per window and feature: below it the tests have no power and medians wobble
MIN_EXPECTED_COUNT = 5  # Cochran's rule: sparser chi-square cells make the test anti-conservative
OTHER = "(other)"
# Calls per side for the classifier. Its AUC only counts from the 0.6 floor up, and at 2,000 a side
# (1,000 in each held-out fold) an AUC of 0.6 lies ~8 standard errors above 0.5: more calls would cost
# time and find nothing new. The per-feature tests always use every call.
CLASSIFIER_CAP = 2000
# Two folds, each tested on its own (cross-fitting): a fold's held-out scores give an exact Mann-Whitney
# p-value, and Bonferroni joins the two. Pooling K-fold scores into one test is anti-conservative
# (simulated stable windows, 300 vs 300: 10% below p=0.05, 3% below 0.01), since the folds share data.
CLASSIFIER_FOLDS = 2
TEXT_COMPONENTS = 16  # SVD dimensions of the answers' TF-IDF: room for style cues, few enough for 60 calls
TEXT_VOCABULARY = 20_000  # TF-IDF terms kept; bounds memory and time on long answers
TEXT_EDGE = 200  # characters kept from each end of an answer: style shows in openings and sign-offs
Z_CLIP = 5.0  # standardized values are clipped so one absurd latency cannot steer the classifier
MIN_SEGMENT = 5  # calls on each side of a change point: fewer would let one outlier make a segment
RANDOM_STATE = 0  # subsampling, folds and SVD are seeded: the same windows always give the same report
MAX_NAMED = 3  # moved features named in the reason; the rest are counted


@dataclass(frozen=True)
class EffectFloors:
    """The smallest change worth an event, per kind of feature: in big windows every trifle is significant."""

    cliffs_delta: float = 0.147  # numeric: Romano et al. (2006) call |δ| < 0.147 negligible
    rate_points: float = 0.02  # flags: a refusal or error rate must move by 2 points to matter to an operator
    share_points: float = 0.05  # categories: a share must move 5 points; mixes also follow the traffic
    auc: float = 0.6  # classifier: below it the windows are barely told apart, however significant


DEFAULT_FLOORS = EffectFloors()


@dataclass(frozen=True)
class CallSample:
    """One window of calls, column-wise: NaN marks a missing number, `texts` may be empty."""

    times: np.ndarray  # epoch seconds
    numeric: dict[str, np.ndarray] = field(default_factory=dict)
    categorical: dict[str, list[str]] = field(default_factory=dict)
    flags: dict[str, np.ndarray] = field(default_factory=dict)
    texts: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.times)


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


@dataclass(frozen=True)
class ClassifierTest:
    """A baseline-versus-current classifier: mean held-out AUC, its p-value, and each scored call's time."""

    auc: float
    p_value: float
    times: np.ndarray
    scores: np.ndarray  # held-out, as within-fold quantiles


# --- building a sample ---------------------------------------------------------------------------


def sample_from_rows(
    rows: Iterable[Mapping[str, Any]],
    *,
    numeric: Sequence[str] = DEFAULT_NUMERIC,
    categorical: Sequence[str] = DEFAULT_CATEGORICAL,
    flags: Sequence[str] = DEFAULT_FLAGS,
    text: str | None = "answer",
    time: str = "start_time",
) -> CallSample:
    """A `CallSample` from query rows; odd values become missing (NaN, "(none)", False), never an error."""
    rows = list(rows)
    return CallSample(
        times=np.array([_to_epoch(r.get(time)) for r in rows], dtype=float),
        numeric={k: np.array([_to_float(r.get(k)) for r in rows], dtype=float) for k in numeric},
        categorical={k: [_to_label(r.get(k)) for r in rows] for k in categorical},
        flags={k: np.array([_to_flag(r.get(k)) for r in rows], dtype=bool) for k in flags},
        texts=[str(r.get(text) or "") for r in rows] if text else [],
    )


def _to_float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _to_epoch(value: Any) -> float:
    if isinstance(value, datetime):  # ClickHouse hands back naive UTC datetimes
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    return _to_float(value)


def _to_label(value: Any) -> str:
    if isinstance(value, list | tuple):  # `finish_reasons` is an array column
        value = ",".join(map(str, value))
    return str(value) if value not in (None, "") else "(none)"


def _to_flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return bool(value) and value == value  # NaN is missing, not true


# --- the report ----------------------------------------------------------------------------------


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


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values: family-wise error control without assuming independence."""
    m, running = len(p_values), 0.0
    adjusted = [1.0] * m
    for rank, i in enumerate(np.argsort(p_values, kind="stable")):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


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
    base_numeric, cur_numeric = _numeric_columns(baseline), _numeric_columns(current)
    for name in base_numeric.keys() & cur_numeric.keys():
        b, c = _present(base_numeric[name]), _present(cur_numeric[name])
        if min(len(b), len(c)) < min_samples:
            skipped.append(name)
        else:
            tested.append(_compare_numeric(name, b, c))
    for name in baseline.flags.keys() & current.flags.keys():
        base_flags, cur_flags = np.asarray(baseline.flags[name], bool), np.asarray(current.flags[name], bool)
        tested.append(_compare_flag(name, base_flags, cur_flags))
    for name in baseline.categorical.keys() & current.categorical.keys():
        tested.append(_compare_categorical(name, baseline.categorical[name], current.categorical[name]))
    return sorted(tested, key=lambda f: f.name), tuple(sorted(skipped))


def _numeric_columns(sample: CallSample) -> dict[str, np.ndarray]:
    columns = {name: np.asarray(values, dtype=float) for name, values in sample.numeric.items()}
    if sample.texts and len(sample.texts) == len(sample):
        columns[ANSWER_CHARS] = np.array([len(t) for t in sample.texts], dtype=float)
    return columns


def _present(values: np.ndarray) -> np.ndarray:
    return values[~np.isnan(values)]


def _compare_numeric(name: str, base: np.ndarray, cur: np.ndarray) -> FeatureShift:
    """Mann-Whitney U: skewed latencies and token counts need no normality; Cliff's delta is its effect."""
    u, p = mannwhitneyu(cur, base, alternative="two-sided")
    delta = 2 * u / (len(cur) * len(base)) - 1  # P(current > baseline) - P(current < baseline)
    b, c = float(np.median(base)), float(np.median(cur))
    change = (c - b) / abs(b) if b else (0.0 if c == b else math.nan)
    return FeatureShift(name, NUMERIC, "mann-whitney", float(u), float(p), float(p), b, c, change, float(delta), False)


def _compare_flag(name: str, base: np.ndarray, cur: np.ndarray) -> FeatureShift:
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
    merged = _merge_sparse(base, cur)
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


def _merge_sparse(base: Sequence[str], cur: Sequence[str]) -> dict[str, str]:
    """Category → label: rare ones pooled in "(other)", or in the commonest if even the pool is rare."""
    pooled = Counter(base) + Counter(cur)
    factor = min(len(base), len(cur)) / (len(base) + len(cur))  # expected count in the smaller window
    sparse = {k for k, n in pooled.items() if n * factor < MIN_EXPECTED_COUNT}
    rare_total = sum(pooled[k] for k in sparse)
    target = OTHER if rare_total * factor >= MIN_EXPECTED_COUNT else pooled.most_common(1)[0][0]
    return {k: target if k in sparse else k for k in pooled}


# --- the classifier two-sample test --------------------------------------------------------------


def classifier_test(baseline: CallSample, current: CallSample) -> ClassifierTest | None:
    """Can a classifier tell the windows apart? Held-out AUC, p from Mann-Whitney on the held-out scores.

    BLAS runs on one thread: the matrices are small, so more threads only add overhead, and in
    embedded mode the collector shares this process.
    """
    rng = np.random.default_rng(RANDOM_STATE)
    picks = _subsample(len(baseline), rng), _subsample(len(current), rng)
    with threadpool_limits(limits=1):
        features = _design_matrix(baseline, current, *picks)
        return _cross_fit(features, picks, baseline.times, current.times) if features.shape[1] else None


def _cross_fit(
    features: np.ndarray, picks: tuple[np.ndarray, np.ndarray], base_times: np.ndarray, cur_times: np.ndarray
) -> ClassifierTest:
    labels = np.r_[np.zeros(len(picks[0])), np.ones(len(picks[1]))]
    folds = StratifiedKFold(CLASSIFIER_FOLDS, shuffle=True, random_state=RANDOM_STATE)
    scores, aucs, p_values = np.empty(len(labels)), [], []
    for train, test in folds.split(features, labels):
        model = LogisticRegression(solver="newton-cholesky")  # few dense columns: a handful of Newton steps
        held_out = model.fit(features[train], labels[train]).decision_function(features[test])
        scores[test] = rankdata(held_out) / len(test)  # each fold's model has its own scale
        auc, p = _auc_test(held_out, labels[test])
        aucs.append(auc)
        p_values.append(p)
    times = np.r_[base_times[picks[0]], cur_times[picks[1]]]
    return ClassifierTest(float(np.mean(aucs)), min(1.0, len(p_values) * min(p_values)), times, scores)


def _auc_test(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """AUC = U / (n0 n1), with the one-sided Mann-Whitney p-value (current scores higher)."""
    current, base = scores[labels == 1], scores[labels == 0]
    u, p = mannwhitneyu(current, base, alternative="greater")
    return float(u) / (len(current) * len(base)), float(p)


def _subsample(size: int, rng: np.random.Generator) -> np.ndarray:
    if size <= CLASSIFIER_CAP:
        return np.arange(size)
    return np.sort(rng.choice(size, CLASSIFIER_CAP, replace=False))


def _design_matrix(baseline: CallSample, current: CallSample, pick_b: np.ndarray, pick_c: np.ndarray) -> np.ndarray:
    """Numbers (log, standardized, with squares for spread), flags, one-hot categories, text SVD.

    Missingness is left out on purpose: a missing TTFT means the app did not stream and a missing
    score that the sampler skipped the call, neither of which is the model's behaviour.
    """
    def both(column_b: Sequence[Any], column_c: Sequence[Any]) -> np.ndarray:
        return np.r_[np.asarray(column_b)[pick_b], np.asarray(column_c)[pick_c]]

    base_numeric, cur_numeric = _numeric_columns(baseline), _numeric_columns(current)
    blocks = [_numeric_block(both(base_numeric[k], cur_numeric[k]))
              for k in sorted(base_numeric.keys() & cur_numeric.keys())]
    blocks += [_standardize(both(baseline.flags[k], current.flags[k]).astype(float))
               for k in sorted(baseline.flags.keys() & current.flags.keys())]
    blocks += [_one_hot(both(baseline.categorical[k], current.categorical[k]), len(pick_b))
               for k in sorted(baseline.categorical.keys() & current.categorical.keys())]
    if len(baseline.texts) == len(baseline) and len(current.texts) == len(current):
        blocks.append(_text_block([_edges(t) for t in both(baseline.texts, current.texts).tolist()]))
    return np.hstack([np.empty((len(pick_b) + len(pick_c), 0)), *blocks])


def _standardize(columns: np.ndarray) -> np.ndarray:
    columns = columns.reshape(len(columns), -1)
    spread = columns.std(axis=0)
    kept = columns[:, spread > 0]
    return np.clip((kept - kept.mean(axis=0)) / spread[spread > 0], -Z_CLIP, Z_CLIP)


def _numeric_block(values: np.ndarray) -> np.ndarray:
    present = ~np.isnan(values)
    if not present.any():
        return np.empty((len(values), 0))
    if values[present].min() >= 0:
        values = np.log1p(values)  # token counts and latencies are log-normal-ish
    values = np.where(present, values, np.median(values[present]))
    z = _standardize(values)
    return np.hstack([z, _standardize(z**2)])


def _one_hot(values: np.ndarray, baseline_n: int) -> np.ndarray:
    merged = _merge_sparse(values[:baseline_n].tolist(), values[baseline_n:].tolist())
    labels = np.array([merged[x] for x in values.tolist()])
    return _standardize(np.stack([labels == k for k in sorted(set(merged.values()))], axis=1).astype(float))


def _edges(text: str) -> str:
    """The opening and the end of an answer: the middle mostly carries the topic and costs time."""
    return text if len(text) <= 2 * TEXT_EDGE else f"{text[:TEXT_EDGE]} {text[-TEXT_EDGE:]}"


def _text_block(texts: list[str]) -> np.ndarray:
    """TF-IDF of the answers reduced by SVD: word choice and style, fitted on both windows unlabelled."""
    if sum(1 for t in texts if t.strip()) < 2 * MIN_SEGMENT:
        return np.empty((len(texts), 0))
    vectorizer = TfidfVectorizer(sublinear_tf=True, min_df=2, ngram_range=(1, 2), max_features=TEXT_VOCABULARY)
    try:
        tfidf = vectorizer.fit_transform(texts)
    except ValueError:  # no term appears twice: nothing to learn from
        return np.empty((len(texts), 0))
    components = min(TEXT_COMPONENTS, tfidf.shape[1] - 1)
    if components < 1:
        return np.empty((len(texts), 0))
    return _standardize(TruncatedSVD(components, random_state=RANDOM_STATE).fit_transform(tfidf))


# --- when did it change --------------------------------------------------------------------------


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
        return np.r_[_numeric_columns(baseline)[shift.name], _numeric_columns(current)[shift.name]]
    if shift.kind == FLAG:
        return np.r_[baseline.flags[shift.name], current.flags[shift.name]].astype(float)
    base, cur = baseline.categorical[shift.name], current.categorical[shift.name]
    merged = _merge_sparse(base, cur)
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
