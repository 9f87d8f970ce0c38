"""The trace view's field table: a count the collector refused reads as refused, with its reason."""

from __future__ import annotations

from dashboard.ui.span_fields import field_text
from schemas import fields as f

REASON = "span 'chat': gen_ai.usage.input_tokens=9223372036854775807 is not a token count"


def test_a_refused_count_shows_its_reason_not_none() -> None:
    span = {f.INPUT_TOKENS: None, f.OUTPUT_TOKENS: 12, "attributes": {f.REFUSED_ATTRIBUTE: REASON}}
    assert field_text(span, f.INPUT_TOKENS) == f"refused: {REASON}"
    assert field_text(span, f.OUTPUT_TOKENS) == "12"


def test_a_missing_value_is_a_dash() -> None:
    span = {f.INPUT_TOKENS: None, f.TTFT_MS: None, "attributes": {}}
    assert field_text(span, f.INPUT_TOKENS) == "\u2013"
    assert field_text(span, f.TTFT_MS) == "\u2013"
