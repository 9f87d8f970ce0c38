"""The one rule for token counts no call can have (collector/counts.py)."""

from __future__ import annotations

import json

import pytest

from collector.counts import COUNT_KEYS, REFUSED, read_count, refused_values, span_refusals
from llmpulse.config import Settings

BOUND = 1000


@pytest.mark.parametrize(("value", "expected"), [
    (0, 0), (12, 12), (BOUND, BOUND), (12.9, 12), ("42", 42), (" 7 ", 7), ("12.5", 12),
    (BOUND + 1, REFUSED), (2**63 - 1, REFUSED), (2**64 + 5, REFUSED), (-1, REFUSED), ("-5", REFUSED),
    (float("nan"), REFUSED), (float("inf"), REFUSED), ("1e999", REFUSED), ("NaN", REFUSED), ("9" * 400, REFUSED),
    (None, None), (True, None), ("many", None), ("", None), ([1], None), ({"a": 1}, None),
])
def test_a_count_is_a_number_from_zero_to_the_bound(value: object, expected: int | None) -> None:
    assert read_count(value, BOUND) == expected


def test_refusals_name_the_attribute_and_the_json_path_inside_it() -> None:
    usage = json.dumps({"input": 2**63 - 1, "output": 5, "prompt_tokens_details": {"cached_tokens": -3}})
    assert refused_values("langfuse.observation.usage_details", usage, BOUND) == [
        f"langfuse.observation.usage_details.input={2**63 - 1} is not a token count (0 to {BOUND} a call)",
        "langfuse.observation.usage_details.prompt_tokens_details.cached_tokens=-3 is not a token count "
        f"(0 to {BOUND} a call)",
    ]
    assert refused_values("langfuse.observation.usage_details", "not json", BOUND) == []
    assert refused_values("gen_ai.request.model", -1, BOUND) == []  # no count attribute


def test_reasons_come_in_name_order_whatever_order_the_attributes_had() -> None:
    attrs = {"gen_ai.usage.output_tokens": -1, "gen_ai.usage.input_tokens": -2}
    reasons = span_refusals(attrs, list(attrs), BOUND)
    assert [r.partition("=")[0] for r in reasons] == ["gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens"]
    assert span_refusals(attrs, reversed(list(attrs)), BOUND) == reasons


def test_every_token_source_of_the_convention_table_is_checked() -> None:
    assert {"gen_ai.usage.input_tokens", "llm.token_count.prompt", "ai.usage.inputTokens",
            "langfuse.observation.usage_details", "ai.response.providerMetadata"} <= COUNT_KEYS


def test_the_default_bound_is_the_settings_default() -> None:
    from collector.counts import DEFAULT_MAX_COUNT

    assert Settings().max_tokens_per_call == DEFAULT_MAX_COUNT


def test_a_reported_cost_above_a_million_dollars_is_refused_however_large() -> None:
    from decimal import Decimal

    from collector.counts import read_cost

    assert read_cost("0.0123") == Decimal("0.0123") and read_cost(1_000_000) == Decimal(1_000_000)
    assert read_cost(1_000_000.01) is None and read_cost("9" * 40) is None
    assert refused_values("gen_ai.usage.cost", 1e30, BOUND) == [
        "gen_ai.usage.cost=1e+30 is not the cost of one call (at most $1,000,000)"]
    assert refused_values("gen_ai.usage.cost", -5, BOUND) == []  # no cost at all: ignored, as before
    parts = json.dumps({"input": 600_000, "output": 600_000})
    assert refused_values("langfuse.observation.cost_details", parts, BOUND) == [
        "langfuse.observation.cost_details (sum of its parts)=1200000.000000000000 is not the cost of one call "
        "(at most $1,000,000)"]


def test_a_count_inside_a_list_of_modalities_is_checked_as_normalization_reads_it() -> None:
    """ADK keeps audio counts in a list of per-modality objects (`modality=AUDIO`): the check before
    the ack must find the count there, as normalization does, or the span's NULL goes unexplained."""
    response = json.dumps({"usage_metadata": {"prompt_token_count": 10, "prompt_tokens_details": [
        {"modality": "TEXT", "token_count": 4}, {"modality": "AUDIO", "token_count": -6}]}})
    reasons = refused_values("gcp.vertex.agent.llm_response", response, BOUND)
    assert reasons == ["gcp.vertex.agent.llm_response.usage_metadata.prompt_tokens_details.modality=AUDIO"
                       f".token_count=-6 is not a token count (0 to {BOUND} a call)"]
