"""Behaviour drift statistics on simulated windows: stable streams stay quiet, every kind of shift is found.

The windows are drawn from seeded generators with the shapes real traffic has (log-normal token
counts and latencies, a dominant finish reason, rare refusals and errors, sparse scores, TTFT only
on streamed calls, answers from one pool of templates), so the tests exercise the floors and the
multiple-testing correction the way production data will.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import numpy as np
import pytest

from detectors.shift.compare import compare_windows, estimate_change_time, holm
from detectors.shift.report import FeatureShift, ShiftReport
from detectors.shift.sample import (
    ANSWER_CHARS,
    ERROR,
    FINISH_REASON,
    LATENCY_PER_TOKEN,
    OUTPUT_TOKENS,
    REFUSAL,
    SCORE,
    TTFT,
    CallSample,
    sample_from_rows,
)
from llmpulse.demo.calls import CallRequest, TraceBuilder, TraceContext, complete_call
from llmpulse.demo.content import KNOWLEDGE_BASE, TICKETS, TRIAGE_SYSTEM_PROMPT
from llmpulse.demo.conventions import OTEL, Message
from llmpulse.demo.models import DRIFTING_MODEL

DAY = 86_400.0
NOW = datetime(2025, 6, 1, tzinfo=UTC).timestamp()
BASELINE = (NOW - 8 * DAY, NOW - DAY)  # the 7 days before the current window
CURRENT = (NOW - DAY, NOW)  # the last 24 h
FINISH_REASONS = ("stop", "length", "tool_calls", "content_filter")
OPENERS = ("Sure", "Of course", "Certainly", "Yes", "Good question", "Thanks for asking")
TOPICS = ("your invoice", "the refund", "a password reset", "the API key", "your plan", "the export")
VERBS = ("update", "cancel", "check", "download", "change", "review")
PLACES = ("in Settings", "on the Billing page", "from the dashboard", "under Account", "in the app")
TAILS = ("It takes effect right away.", "You will get an email.", "This can take a few minutes.", "")
VOWEL_SWAP = str.maketrans("aeiou", "uoiea")
PREAMBLE = "Great question! I'm so glad you asked, and I'd be delighted to walk you through this carefully. "


@dataclass(frozen=True)
class Traffic:
    """How one window's calls are distributed; every field is a knob a silent model change can turn."""

    tokens_median: float = 180.0
    ms_per_token: float = 12.0
    ttft_median: float = 400.0
    length_share: float = 0.05  # finish_reason "length"; "stop" takes what the others leave
    refusal_rate: float = 0.01
    error_rate: float = 0.01
    score_mean: float = 0.8
    preamble: bool = False
    formal: bool = False  # same lengths, other words: a change only the text shows


STABLE = Traffic()


def answers(rng: np.random.Generator, size: int, traffic: Traffic) -> list[str]:
    """Answers from the template pool; `formal` swaps the vocabulary while keeping the length."""
    pools = (OPENERS, VERBS, TOPICS, PLACES, TAILS)
    picks = zip(*(rng.integers(len(pool), size=size) for pool in pools), strict=True)
    texts = [f"{OPENERS[a]}, you can {VERBS[b]} {TOPICS[c]} {PLACES[d]}. {TAILS[e]}" for a, b, c, d, e in picks]
    if traffic.formal:
        texts = [text.translate(VOWEL_SWAP) for text in texts]
    return [PREAMBLE + text for text in texts] if traffic.preamble else texts


def window(rng: np.random.Generator, size: int, span: tuple[float, float], traffic: Traffic = STABLE) -> CallSample:
    times = np.sort(rng.uniform(*span, size))
    streamed = rng.random(size) < 0.5
    scored = rng.random(size) < 0.3
    shares = [0.945 - traffic.length_share, traffic.length_share, 0.05, 0.005]
    score = rng.beta(20 * traffic.score_mean, 20 * (1 - traffic.score_mean), size)
    return CallSample(
        times=times,
        numeric={
            OUTPUT_TOKENS: np.round(rng.lognormal(math.log(traffic.tokens_median), 0.6, size)) + 1,
            LATENCY_PER_TOKEN: rng.lognormal(math.log(traffic.ms_per_token), 0.25, size),
            TTFT: np.where(streamed, rng.lognormal(math.log(traffic.ttft_median), 0.35, size), np.nan),
            SCORE: np.where(scored, score, np.nan),
        },
        categorical={FINISH_REASON: list(rng.choice(FINISH_REASONS, size, p=shares))},
        flags={REFUSAL: rng.random(size) < traffic.refusal_rate, ERROR: rng.random(size) < traffic.error_rate},
        texts=answers(rng, size, traffic),
    )


def concat(first: CallSample, second: CallSample) -> CallSample:
    """Two stretches of one window back to back (before and after a change)."""
    return CallSample(
        times=np.r_[first.times, second.times],
        numeric={k: np.r_[v, second.numeric[k]] for k, v in first.numeric.items()},
        categorical={k: [*v, *second.categorical[k]] for k, v in first.categorical.items()},
        flags={k: np.r_[v, second.flags[k]] for k, v in first.flags.items()},
        texts=[*first.texts, *second.texts],
    )


def compare(seed: int, size: int, changed: Traffic) -> ShiftReport:
    rng = np.random.default_rng(seed)
    return compare_windows(window(rng, size, BASELINE), window(rng, size, CURRENT, changed))


def by_name(report: ShiftReport) -> dict[str, FeatureShift]:
    return {f.name: f for f in report.features}


# --- stable streams --------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [300, 3000])
def test_stable_streams_never_drift(size: int) -> None:
    for seed in range(40):
        report = compare(seed, size, STABLE)
        assert not report.drifted, (seed, report.reason)
        assert report.changed_at is None
        assert report.reason.startswith("No behaviour shift")


def test_a_trivial_difference_in_a_huge_window_is_below_the_floor() -> None:
    report = compare(1, 20_000, replace(STABLE, ms_per_token=12.0 * 1.03))
    latency = by_name(report)[LATENCY_PER_TOKEN]
    assert latency.p_value < 1e-6  # significant, yet negligible
    assert not latency.moved and not report.drifted


# --- single-feature shifts -------------------------------------------------------------------------

SHIFTS = [
    pytest.param(OUTPUT_TOKENS, replace(STABLE, tokens_median=180 * 1.4), id="output length +40%"),
    pytest.param(LATENCY_PER_TOKEN, replace(STABLE, ms_per_token=12 * 1.5), id="latency per token x1.5"),
    pytest.param(TTFT, replace(STABLE, ttft_median=800), id="ttft x2"),
    pytest.param(FINISH_REASON, replace(STABLE, length_share=0.30), id="finish length 5% to 30%"),
    pytest.param(REFUSAL, replace(STABLE, refusal_rate=0.08), id="refusals 1% to 8%"),
    pytest.param(ERROR, replace(STABLE, error_rate=0.10), id="errors 1% to 10%"),
    pytest.param(SCORE, replace(STABLE, score_mean=0.7), id="score drop"),
]


@pytest.mark.parametrize(("feature", "changed"), SHIFTS)
def test_each_single_feature_shift_is_found_and_named(feature: str, changed: Traffic) -> None:
    report = compare(7, 1000, changed)
    assert report.drifted, report.reason
    assert report.moved == (feature,)
    assert report.features[0].name == feature
    assert all(f.p_adjusted >= f.p_value for f in report.features)
    assert feature in report.reason


def test_the_report_says_by_how_much() -> None:
    features = by_name(compare(3, 2000, replace(STABLE, tokens_median=180 * 1.4, length_share=0.30)))
    tokens, finish = features[OUTPUT_TOKENS], features[FINISH_REASON]
    assert tokens.test == "mann-whitney" and 0.3 < tokens.change < 0.5 and tokens.effect > 0.147
    assert finish.test == "chi-square" and finish.category == "length"
    assert finish.change == pytest.approx(0.25, abs=0.03)
    assert finish.baseline["length"] == pytest.approx(0.05, abs=0.015)


def test_rare_flags_report_rates_and_their_difference() -> None:
    report = compare(5, 1000, replace(STABLE, refusal_rate=0.08))
    refusal = by_name(report)[REFUSAL]
    assert refusal.test == "fisher exact" and refusal.moved
    assert refusal.baseline == pytest.approx(0.01, abs=0.008) and refusal.current == pytest.approx(0.08, abs=0.02)
    assert refusal.change == pytest.approx(refusal.current - refusal.baseline)
    assert f"refusal rate {refusal.baseline:.1%} → {refusal.current:.1%}" in report.reason


# --- text ------------------------------------------------------------------------------------------


def test_a_verbose_preamble_is_caught_by_the_classifier() -> None:
    report = compare(11, 500, replace(STABLE, preamble=True))
    assert report.drifted and report.classifier_moved
    assert report.auc > 0.95 and report.auc_p_value < 1e-10
    assert ANSWER_CHARS in report.moved and OUTPUT_TOKENS not in report.moved


def test_a_change_of_wording_alone_is_caught_by_the_classifier_only() -> None:
    report = compare(12, 500, replace(STABLE, formal=True))
    assert report.moved == ()
    assert report.drifted and report.classifier_moved and report.auc > 0.9
    assert "no single feature moved" in report.reason


# --- change time -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changed", "by_classifier"),
    [
        pytest.param(replace(STABLE, ms_per_token=18.0), True, id="dated on the classifier's scores"),
        pytest.param(replace(STABLE, refusal_rate=0.12), False, id="dated on the moved feature"),
    ],
)
def test_the_change_time_is_found_inside_the_current_window(changed: Traffic, by_classifier: bool) -> None:
    rng = np.random.default_rng(21)
    change_at = CURRENT[0] + 0.4 * DAY
    current = concat(window(rng, 400, (CURRENT[0], change_at)), window(rng, 600, (change_at, CURRENT[1]), changed))
    report = compare_windows(window(rng, 3000, BASELINE), current)
    assert report.drifted and report.classifier_moved is by_classifier
    assert abs(report.changed_at - change_at) < 0.1 * DAY
    assert datetime.fromtimestamp(change_at, UTC).strftime("%Y-%m-%d") in report.reason


def test_estimate_change_time_on_a_plain_step() -> None:
    rng = np.random.default_rng(0)
    times = np.arange(200.0)
    values = np.r_[rng.normal(0, 1, 120), rng.normal(1.5, 1, 80)]
    assert abs(estimate_change_time(times[::-1].copy(), values[::-1].copy()) - 119.5) <= 6
    assert estimate_change_time(times[:6], values[:6]) is None


# --- too little, or missing, data -----------------------------------------------------------------


def test_too_few_calls_never_drift_and_say_so() -> None:
    rng = np.random.default_rng(2)
    report = compare_windows(window(rng, 500, BASELINE), window(rng, 12, CURRENT, replace(STABLE, error_rate=0.9)))
    assert not report.drifted and report.features == () and report.auc is None
    assert "12" in report.reason and "at least 30" in report.reason
    assert (report.baseline_n, report.current_n) == (500, 12)


def test_a_feature_missing_everywhere_is_skipped_not_an_error() -> None:
    rng = np.random.default_rng(3)
    base, cur = window(rng, 400, BASELINE), window(rng, 400, CURRENT, replace(STABLE, ms_per_token=18.0))
    no_ttft = {**cur.numeric, TTFT: np.full(len(cur), np.nan)}
    report = compare_windows(base, replace(cur, numeric=no_ttft, texts=[]))
    assert TTFT in report.skipped and TTFT not in by_name(report)
    assert report.moved == (LATENCY_PER_TOKEN,) and report.auc is not None


def test_rows_become_a_sample_without_raising_on_odd_values() -> None:
    rows = [
        {"start_time": datetime(2025, 6, 1, 12), "output_tokens": 12, "ttft_ms": None, "finish_reason": ["stop"],
         "refusal": 0, "error": "true", "answer": "Hi"},
        {"start_time": 1748779200.5, "output_tokens": "n/a", "finish_reason": None, "refusal": float("nan")},
    ]
    sample = sample_from_rows(rows)
    assert sample.times.tolist() == [1748779200.0, 1748779200.5]
    assert sample.numeric[OUTPUT_TOKENS][0] == 12 and np.isnan(sample.numeric[OUTPUT_TOKENS][1])
    assert np.isnan(sample.numeric[TTFT]).all()
    assert sample.categorical[FINISH_REASON] == ["stop", "(none)"]
    assert sample.flags[REFUSAL].tolist() == [False, False] and sample.flags[ERROR].tolist() == [True, False]
    assert sample.texts == ["Hi", ""]


def test_holm_adjusts_in_order_and_caps_at_one() -> None:
    assert holm([0.01, 0.04, 0.03, 0.5]) == pytest.approx([0.04, 0.09, 0.09, 0.5])
    assert holm([0.6, 0.6]) == [1.0, 1.0]


# --- the demo's silent gpt-4o-mini update ----------------------------------------------------------


def demo_calls(seed: int, size: int, phase: int, span: tuple[float, float]) -> CallSample:
    """`size` gpt-4o-mini calls as the demo makes them (RAG answers, ticket triage, cache hits), in `phase`."""
    rng = random.Random(seed)
    context = TraceContext(rng, random.Random(seed + 1), phase, "support-bot", "u1", "s1", 0)
    calls = [complete_call(TraceBuilder(context), demo_request(rng)) for _ in range(size)]
    rows = [
        {
            "start_time": t,
            OUTPUT_TOKENS: call.output_tokens,
            LATENCY_PER_TOKEN: call.duration_ms / call.output_tokens if call.output_tokens else None,
            TTFT: call.ttft_ms,
            FINISH_REASON: call.finish_reason,
            "answer": call.output,
        }
        for t, call in zip(sorted(rng.uniform(*span) for _ in range(size)), calls, strict=True)
    ]
    return sample_from_rows(rows)


def demo_request(rng: random.Random) -> CallRequest:
    """The demo's mix of gpt-4o-mini calls: about 52% RAG answers, 31% ticket triage, 17% cache hits."""
    kind = rng.choices(("rag", "triage", "cached"), weights=(52, 31, 17))[0]
    if kind == "triage":
        text, category, priority = rng.choice(TICKETS)
        verdict = f'{{"category": "{category}", "priority": "{priority}"}}'
        return CallRequest(DRIFTING_MODEL, OTEL, (Message("user", text),), verdict, TRIAGE_SYSTEM_PROMPT, chatty=False)
    article = rng.choice(KNOWLEDGE_BASE)
    message = (Message("user", rng.choice(article.questions)),)
    return CallRequest(DRIFTING_MODEL, OTEL, message, article.answer, stream=rng.random() < 0.5,
                       app_cache_hit=kind == "cached")


@pytest.mark.parametrize("size", [60, 400])
def test_the_demo_model_change_is_found(size: int) -> None:
    report = compare_windows(demo_calls(1, size, 0, BASELINE), demo_calls(2, size, 1, CURRENT))
    assert report.drifted, report.reason
    assert report.classifier_moved
    assert abs(report.changed_at - CURRENT[0]) < 0.1 * DAY  # the demo switches models at the window's start
    if size >= 400:
        assert {OUTPUT_TOKENS, LATENCY_PER_TOKEN, TTFT, ANSWER_CHARS} <= set(report.moved)


def test_the_demo_without_its_change_is_stable() -> None:
    for seed in range(10):
        report = compare_windows(demo_calls(seed, 400, 0, BASELINE), demo_calls(seed + 100, 400, 0, CURRENT))
        assert not report.drifted, (seed, report.reason)
