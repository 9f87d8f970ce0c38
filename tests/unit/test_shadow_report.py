"""The pure parts of shadow mode: the attribute's check at ingest and answer agreement."""

from __future__ import annotations

import json

import pytest

from collector.context_columns import shadow_of
from evals.shadow_report import agreement, answer_of, build_report
from schemas.shadow_fields import SHADOW_OF_ATTRIBUTE

OWN_ID = "00000000000000aa"


@pytest.mark.parametrize(("value", "stored", "refused"), [
    ("0123456789ABCDEF", "0123456789abcdef", False),
    (" 0123456789abcdef ", "0123456789abcdef", False),
    ("0123456789abcde", "", True),          # 15 characters
    ("0123456789abcdeg", "", True),         # not hex
    ("0000000000000000", "", True),         # the invalid span id
    (OWN_ID, "", True),                     # its own id
    (81985529216486895, "", True),          # a number, not the id's hex text
])
def test_shadow_of_takes_only_another_spans_id(value: object, stored: str, refused: bool) -> None:
    found, reason = shadow_of({SHADOW_OF_ATTRIBUTE: value}, OWN_ID)
    assert found == stored and bool(reason) is refused
    assert not reason or reason.startswith(f"{SHADOW_OF_ATTRIBUTE}=")


def test_a_span_without_the_attribute_is_no_shadow_call() -> None:
    assert shadow_of({"gen_ai.request.model": "gpt-4o"}, OWN_ID) == ("", "")


def test_agreement_orders_same_over_reworded_over_different_answers() -> None:
    same = agreement("Paris is the capital.", "paris is the capital")
    reworded = agreement("Paris is the capital.", "The capital is Paris, of course.")
    different = agreement("Paris is the capital.", "Berlin.")
    assert same == 1.0 > reworded > different == 0.0
    assert agreement("", "") == 1.0 and agreement("", "Paris") == 0.0


def test_answer_of_reads_the_stored_output_messages() -> None:
    stored = json.dumps([{"role": "assistant", "content": "Paris."}])
    assert answer_of(stored) == "Paris." and answer_of("") == "" and answer_of("{not json") == ""


def _totals(**preference: int) -> dict:
    counts = {"prefer_primary": 0, "prefer_candidate": 0, "prefer_tie": 0, "preferred_by_judge": 0,
              "preferred_by_app": 0, "preferred_by_human": 0, "judge_checked": 0, "judge_agreed": 0, **preference}
    return {"primary_model": "a", "candidate_model": "b", "pairs": 10, "cost_delta_mean": None,
            "cost_delta_total": None, "priced_pairs": 0, "latency_delta_mean": 1.0, "latency_delta_median": 1.0,
            "primary_groundedness": None, "primary_scored": 0, "candidate_groundedness": None,
            "candidate_scored": 0, **counts}


def test_the_preference_says_whose_verdicts_count_and_how_often_the_judge_agreed_with_people() -> None:
    row = _totals(prefer_primary=1, prefer_candidate=3, preferred_by_judge=3, preferred_by_human=1,
                  judge_checked=1, judge_agreed=0)
    (pair,) = build_report([row], [], [], 0, 5)["pairs"]
    assert pair["judge_preference"] == {
        "primary": 1, "candidate": 3, "tie": 0, "judged": 4, "candidate_share": 0.75,
        "sources": {"judge": 3, "app": 0, "human": 1}, "judge_agreement": {"pairs": 1, "agreed": 0, "rate": 0.0}}
    (unjudged,) = build_report([_totals()], [], [], 0, 5)["pairs"]
    assert unjudged["judge_preference"] is None
    only_judge = build_report([_totals(prefer_tie=2, preferred_by_judge=2)], [], [], 0, 5)["pairs"][0]
    assert only_judge["judge_preference"]["judge_agreement"] == {"pairs": 0, "agreed": 0, "rate": None}
