"""The trace view's field formats: money in decimals, tokens in full, lists as text, missing as a dash."""

from __future__ import annotations

from decimal import Decimal

from dashboard.ui import format as fmt
from dashboard.ui.span_fields import field_rows, tokens, usd_precise
from schemas import fields as f


def test_money_is_never_an_exponent() -> None:
    assert usd_precise(3.6e-05) == "$0.000036"
    assert usd_precise(Decimal("0.000036000000")) == "$0.000036"
    assert usd_precise(0.0123456789) == "$0.0123457"
    assert usd_precise(1.5) == "$1.50" and usd_precise(0) == "$0"
    assert usd_precise(None) == fmt.MISSING and usd_precise(float("nan")) == fmt.MISSING
    assert "e" not in usd_precise(1e-12)


def test_a_call_reads_with_labels_units_and_no_python_reprs() -> None:
    span = {f.SPAN_TYPE: "llm", f.PROVIDER: "openai", f.REQUEST_MODEL: "gpt-4o-mini", f.RESPONSE_MODEL: "",
            f.STATUS_CODE: "ok", f.DURATION_MS: 1234.5, f.TTFT_MS: 603.0081453201053, f.STREAMING: True,
            f.INPUT_TOKENS: 12345, f.OUTPUT_TOKENS: 10, f.CACHE_READ_TOKENS: 0, f.CACHE_WRITE_TOKENS: 0,
            f.REASONING_TOKENS: 0, f.COST_INPUT: None, f.COST_OUTPUT: None, f.COST_TOTAL: Decimal("0.000036"),
            f.COST_SOURCE: "list_price", f.FINISH_REASONS: ["stop", "length"], f.RESPONSE_ID: "", "attributes": {}}
    rows = dict(field_rows(span))
    assert rows["Input tokens"] == "12,345" and rows["Cost"] == "$0.000036"
    assert rows["Time to first token"] == "603 ms" and rows["Streamed"] == "yes"
    assert rows["Finish reason"] == "stop, length" and rows["Priced by"] == "list price"
    assert rows["Model served"] == fmt.MISSING and rows["Type"] == "LLM call"
    assert not any(text in value for value in rows.values() for text in ("None", "nan", "['", "e-0"))


def test_a_tool_span_shows_no_call_fields() -> None:
    rows = dict(field_rows({f.SPAN_TYPE: "tool", f.STATUS_CODE: "ok", f.DURATION_MS: 5.0, f.INPUT_TOKENS: 0}))
    assert set(rows) == {"Type", "Status", "Duration"} and tokens(1234567) == "1,234,567"


def test_a_cache_write_call_lists_every_part_of_its_cost() -> None:
    """A call whose cache write costs more than its input and output together: each part is shown,
    so the listed parts add up to the cost; parts that are zero stay hidden."""
    span = {f.SPAN_TYPE: "llm", f.STATUS_CODE: "ok", f.DURATION_MS: 1.0, f.COST_INPUT: 0.000156,
            f.COST_OUTPUT: 0.00042, f.COST_CACHE_READ: 0.0, f.COST_CACHE_WRITE: 0.00465, f.COST_REQUEST: 0.0,
            f.COST_INPUT_AUDIO: 0.0, f.COST_OUTPUT_AUDIO: 0.0, f.INPUT_AUDIO_TOKENS: 0, f.COST_TOTAL: 0.005226,
            "attributes": {}}
    rows = dict(field_rows(span))
    assert rows["Cache-write cost"] == "$0.00465" and rows["Cost"] == "$0.005226"
    assert not {"Cached input cost", "Per-request fee", "Audio input cost", "Audio input tokens"} & set(rows)
    parts = [Decimal(rows[label][1:]) for label in ("Input cost", "Output cost", "Cache-write cost")]
    assert sum(parts) == Decimal(rows["Cost"][1:])
