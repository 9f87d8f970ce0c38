"""The pure parts of shadow mode: the attribute's check at ingest and answer agreement."""

from __future__ import annotations

import json

import pytest

from collector.context_columns import shadow_of
from evals.shadow_report import agreement, answer_of
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
