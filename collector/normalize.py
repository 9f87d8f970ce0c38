"""Span normalization: one decoded `RawSpan` in, one `spans` row out. Pure functions, no I/O.

The mapping itself is data (`schemas.conventions`); `reader` applies it to a span's attributes,
`call_columns` and `context_columns` fill the columns from it, `coerce` makes odd values harmless
and `messages` reads chat content. Costs are left empty for pricing to fill.
"""

from __future__ import annotations

from typing import Any

from collector.call_columns import (
    identity_columns,
    model_columns,
    normalize_provider,
    note_refused_counts,
    token_count_columns,
)
from collector.coerce import str_or_empty
from collector.context_columns import content_columns, context_columns, shadow_of, timing_columns
from collector.counts import DEFAULT_MAX_COUNT
from collector.messages import extract_log_messages, span_content
from collector.reader import Reader, detect_convention, pick_convention
from collector.signals import add_signals
from collector.span_names import named_call
from schemas import conventions as cv
from schemas import fields as f
from schemas.records import RawSpan

# Inside this module a span is read untyped: its fields hold whatever a decoder put there, and
# compiled (mypyc checks annotations at run time) it must not raise where the source would not.
AnySpan = Any

__all__ = ["detect_convention", "extract_log_messages", "normalize_provider", "normalize_span"]

DEFAULT_MAX_CHARS = 32768


def _span_type(name: str, attrs: dict[str, Any]) -> str:
    for key, table in cv.SPAN_TYPE_SOURCES:
        hint = attrs.get(key)
        if not isinstance(hint, str):
            continue
        hint = hint.strip().lower()
        if key in cv.FIRST_WORD_KEYS:
            hint = hint.partition(" ")[0]
        if found := table.get(hint):
            return found
    by_name = cv.VERCEL_SPAN_TYPES.get(name.lower())
    if by_name:
        return by_name
    return f.TYPE_LLM if any(attrs.get(key) for key in cv.MODEL_HINT_KEYS) else f.TYPE_OTHER


def _note_refused(attributes: dict[str, str], reason: str) -> None:
    """Add `reason` to what `llmpulse.refused` already says of the span."""
    said = attributes.get(f.REFUSED_ATTRIBUTE, "")
    attributes[f.REFUSED_ATTRIBUTE] = f"{said}; {reason}" if said else reason


def normalize_span(span: RawSpan, project_id: str, max_chars: int = DEFAULT_MAX_CHARS,
                   max_count: int = DEFAULT_MAX_COUNT) -> dict[str, Any]:
    """The `spans` row for one span: every column of `fields.SPAN_COLUMNS`, costs left to pricing.
    Token counts above `max_count` are refused (see `collector.counts`)."""
    raw: AnySpan = span
    attrs = raw.attributes if isinstance(raw.attributes, dict) else {}
    name = str_or_empty(raw.name)
    span_type = _span_type(name, attrs)
    named = named_call(name, str_or_empty(raw.scope_name)) if span_type == f.TYPE_OTHER else None
    span_type = named.span_type if named is not None else span_type
    reader = Reader(attrs, span_type == f.TYPE_LLM)
    row = identity_columns(raw, project_id, name, reader)
    row[f.CONVENTION] = pick_convention(raw.scope_name, attrs, reader.marker)
    row[f.SPAN_TYPE] = span_type
    row.update(model_columns(reader, span_type, row[f.STATUS_CODE] == "error", named))
    row.update(token_count_columns(reader, row[f.CONVENTION], row[f.PROVIDER], max_count))
    row.update(timing_columns(raw, reader, name))
    row.update(context_columns(raw, reader, max_chars))
    inputs, outputs, documents = span_content(raw, attrs, reader.indexed, span_type, max_chars)
    row.update(content_columns(reader, inputs, outputs, documents))
    add_signals(row, reader, span_type, inputs, outputs, max_chars)
    note_refused_counts(row, reader, max_count)
    row[f.SHADOW_OF], refused = shadow_of(attrs, row[f.SPAN_ID])
    if refused:
        _note_refused(row[f.ATTRIBUTES], refused)
    row[f.IS_CALL] = span_type in f.CALL_TYPES
    row[f.CALL_KEY] = row[f.RESPONSE_ID] or row[f.SPAN_ID]
    return row
