"""How a span's fields read in the trace view: a label and a formatter per field, as data.

The trace view shows these rows and nothing else from the span's columns (the raw attributes stay
one click away), so a new column appears here by adding a row, not by editing the page.
`usd_precise` is a local formatter: `dashboard.ui.format.usd` rounds money to three significant
digits, which suits totals on a chart, not one call's cost (two costs 1% apart must differ).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from dashboard.ui import format as fmt
from schemas import fields as f

Formatter = Callable[[Any], str]

# What a stored `cost_source` means to a reader.
COST_SOURCES = {f.SOURCE_LIST_PRICE: "list price", f.SOURCE_OVERRIDE: "your price override",
                f.SOURCE_REPORTED: "reported by the app", f.SOURCE_UNPRICED: "no price known"}
STATUSES = {"ok": "ok", "error": "error", "unset": "no error reported (status unset)"}
SPAN_TYPES = {f.TYPE_LLM: "LLM call", f.TYPE_EMBEDDING: "embedding", f.TYPE_RETRIEVAL: "retrieval",
              f.TYPE_TOOL: "tool", f.TYPE_AGENT: "agent", f.TYPE_CHAIN: "chain", f.TYPE_OTHER: "other"}


def usd_precise(value: Any, digits: int = 6) -> str:
    """One call's cost to `digits` significant digits, in decimals ("$0.000036", never "3.6e-05"):
    two costs 1% apart must not look the same."""
    number = _decimal(value)
    if number is None:
        return fmt.MISSING
    if number == 0:
        return "$0"
    if abs(number) >= 1:
        return f"${number:,.2f}"
    rounded = round(number, digits - 1 - number.adjusted())
    text = format(rounded, "f")
    return "$" + (text.rstrip("0").rstrip(".") if "." in text else text)


def usd_total(value: Any) -> str:
    """A total on a tile: four significant digits fit its width and still tell two totals apart."""
    return usd_precise(value, digits=4)


tokens = fmt.tokens  # a count in full, with thousands separators ("12,345")


def text(value: Any) -> str:
    """A plain value; a list reads as comma-joined text; empty is missing."""
    if value is None or value == "" or value == []:
        return fmt.MISSING
    if isinstance(value, list | tuple):
        return ", ".join(fmt.plain(v) for v in value if v not in (None, "")) or fmt.MISSING
    return fmt.plain(value)


def yes_no(value: Any) -> str:
    return fmt.MISSING if value is None else "yes" if value else "no"


def _named(names: dict[str, str]) -> Formatter:
    return lambda value: names.get(value, text(value))


def _decimal(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


# field → (label, formatter), in the order the panel shows them.
SPAN_FIELDS: tuple[tuple[str, str, Formatter], ...] = (
    (f.SPAN_TYPE, "Type", _named(SPAN_TYPES)),
    (f.PROVIDER, "Provider", text),
    (f.REQUEST_MODEL, "Model requested", text),
    (f.RESPONSE_MODEL, "Model served", text),
    (f.STATUS_CODE, "Status", _named(STATUSES)),
    (f.DURATION_MS, "Duration", fmt.ms),
    (f.TTFT_MS, "Time to first token", fmt.ms),
    (f.STREAMING, "Streamed", yes_no),
    (f.INPUT_TOKENS, "Input tokens", tokens),
    (f.OUTPUT_TOKENS, "Output tokens", tokens),
    (f.CACHE_READ_TOKENS, "Cached input tokens", tokens),
    (f.CACHE_WRITE_TOKENS, "Cache-write tokens", tokens),
    (f.REASONING_TOKENS, "Reasoning tokens", tokens),
    (f.INPUT_AUDIO_TOKENS, "Audio input tokens", tokens),
    (f.OUTPUT_AUDIO_TOKENS, "Audio output tokens", tokens),
    (f.COST_INPUT, "Input cost", usd_precise),
    (f.COST_OUTPUT, "Output cost", usd_precise),
    (f.COST_CACHE_READ, "Cached input cost", usd_precise),
    (f.COST_CACHE_WRITE, "Cache-write cost", usd_precise),
    (f.COST_INPUT_AUDIO, "Audio input cost", usd_precise),
    (f.COST_OUTPUT_AUDIO, "Audio output cost", usd_precise),
    (f.COST_REQUEST, "Per-request fee", usd_precise),
    (f.COST_TOTAL, "Cost", usd_precise),
    (f.COST_SOURCE, "Priced by", _named(COST_SOURCES)),
    (f.FINISH_REASONS, "Finish reason", text),
    (f.RESPONSE_ID, "Response id", text),
)
# Shown only on spans that are calls: the rest are empty on a tool or chain span.
CALL_ONLY = frozenset({f.PROVIDER, f.REQUEST_MODEL, f.RESPONSE_MODEL, f.TTFT_MS, f.STREAMING, f.INPUT_TOKENS,
                       f.OUTPUT_TOKENS, f.CACHE_READ_TOKENS, f.CACHE_WRITE_TOKENS, f.REASONING_TOKENS,
                       f.COST_INPUT, f.COST_OUTPUT, f.COST_TOTAL, f.COST_SOURCE, f.FINISH_REASONS, f.RESPONSE_ID,
                       *f.AUDIO_TOKEN_FIELDS, *f.AUDIO_COST_FIELDS, f.COST_CACHE_READ, f.COST_CACHE_WRITE,
                       f.COST_REQUEST})
# Shown only when not zero: most calls have none of these, and where one has a part the listed
# parts add up to the cost (a cache write's price alone can be most of a call's cost).
IF_NONZERO = frozenset({*f.AUDIO_TOKEN_FIELDS, *f.AUDIO_COST_FIELDS, f.COST_CACHE_READ, f.COST_CACHE_WRITE,
                        f.COST_REQUEST})


def field_rows(span: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, text) of each field that applies to the span: call fields on calls only, the rarer
    cost and audio parts only where they are not zero."""
    is_call = span.get(f.SPAN_TYPE) in f.CALL_TYPES
    return [(label, field_text(span, name, show)) for name, label, show in SPAN_FIELDS
            if (is_call or name not in CALL_ONLY) and (name not in IF_NONZERO or span.get(name))]


def field_text(span: dict[str, Any], field: str, show: Formatter = text) -> str:
    """A NULL count is one the collector refused (collector/counts.py): say so, with its reason."""
    value = span.get(field)
    if value is not None:
        return show(value)
    refused = span.get("attributes", {}).get(f.REFUSED_ATTRIBUTE) if field.endswith("_tokens") else None
    return f"refused: {refused}" if refused else fmt.MISSING
