"""The classifier two-sample test: can a model tell the baseline window from the current one?

It sees what no single column shows, such as a new style of answer: numbers, flags, categories
and the answers' TF-IDF go into one design matrix, and the held-out AUC says how well it tells.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import mannwhitneyu, rankdata
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

from detectors.shift.sample import CallSample, merge_sparse, numeric_columns

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


@dataclass(frozen=True)
class ClassifierTest:
    """A baseline-versus-current classifier: mean held-out AUC, its p-value, and each scored call's time."""

    auc: float
    p_value: float
    times: np.ndarray
    scores: np.ndarray  # held-out, as within-fold quantiles


def classifier_test(baseline: CallSample, current: CallSample) -> ClassifierTest | None:
    """Can a classifier tell the windows apart? Held-out AUC, p from Mann-Whitney on the held-out scores.

    BLAS runs on one thread: the matrices are small, so more threads only add overhead, and in
    embedded mode the collector shares the machine.
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

    base_numeric, cur_numeric = numeric_columns(baseline), numeric_columns(current)
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
    merged = merge_sparse(values[:baseline_n].tolist(), values[baseline_n:].tolist())
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
