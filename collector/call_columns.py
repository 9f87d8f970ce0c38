"""Who was called, and what it used: the identity, model, provider and token columns of a span.

Each reads canonical fields through the span's `Reader` (`collector.reader`); token counts are
made inclusive by `collector.usage` and refused by `collector.counts`' rule.
"""

from __future__ import annotations

from typing import Any

from collector.coerce import as_text, ns_or_zero, str_or_empty, utc_datetime
from collector.counts import MAX_REPORTED_COST, REFUSED, REFUSED_ATTRIBUTE, read_count, span_refusals
from collector.reader import Reader
from collector.span_names import NamedCall
from collector.usage import PART_FIELDS, CallScope, token_columns
from schemas import conventions as cv
from schemas import fields as f
from schemas import providers as pv

# A span is read untyped (see `collector.normalize`).
AnySpan = Any

_KINDS = ("unspecified", "internal", "server", "client", "producer", "consumer")
_STATUSES = ("unset", "ok", "error")


def identity_columns(span: AnySpan, project_id: str, name: str, reader: Reader) -> dict[str, Any]:
    start, end = ns_or_zero(span.start_ns), ns_or_zero(span.end_ns)
    status = _enum(_STATUSES, span.status_code)
    if reader.attrs.get(cv.LANGFUSE_LEVEL) == cv.LANGFUSE_ERROR_LEVEL:
        status = "error"
    return {
        f.PROJECT_ID: str_or_empty(project_id), f.TRACE_ID: str_or_empty(span.trace_id),
        f.SPAN_ID: str_or_empty(span.span_id),
        f.PARENT_SPAN_ID: str_or_empty(span.parent_span_id), f.NAME: name, f.KIND: _enum(_KINDS, span.kind),
        f.SCOPE_NAME: str_or_empty(span.scope_name), f.START_TIME: utc_datetime(start),
        f.END_TIME: utc_datetime(end),
        f.DURATION_MS: max(end - start, 0) / 1e6, f.STATUS_CODE: status,
        f.STATUS_MESSAGE: str_or_empty(span.status_message) or reader.value(f.STATUS_MESSAGE, as_text, ""),
    }


def _enum(names: tuple[str, ...], code: Any) -> str:
    """OTLP enum int → name; anything unknown → the zero value ('unspecified' / 'unset')."""
    return names[code] if type(code) is int and 0 <= code < len(names) else names[0]


def model_columns(reader: Reader, span_type: str, failed: bool, named: NamedCall | None) -> dict[str, Any]:
    """Model, provider and operation; a call known only by its span name (`span_names`) fills the gaps."""
    model_name = reader.value(cv.MODEL_NAME, as_text, "")
    # Langfuse's one model name is the requested one when the call failed: nothing was served.
    response = reader.value(f.RESPONSE_MODEL, as_text) or ("" if failed else model_name)
    # With no requested model on record (OpenInference embeddings), group by the served one, not ''.
    request = reader.value(f.REQUEST_MODEL, as_text) or model_name or response or (named.model if named else "")
    provider = normalize_provider(reader.value(f.PROVIDER, as_text, "")) or (named.provider if named else "")
    operation = reader.value(f.OPERATION, as_text, "") or (named.operation if named is not None else "")
    return {
        f.PROVIDER: provider or _provider_of(request or response),
        f.OPERATION: _operation(operation, span_type),
        f.REQUEST_MODEL: request, f.RESPONSE_MODEL: response,
        f.RESPONSE_ID: reader.value(f.RESPONSE_ID, as_text, ""),
        f.SYSTEM_FINGERPRINT: reader.value(f.SYSTEM_FINGERPRINT, as_text, ""),
    }


def _operation(reported: str, span_type: str) -> str:
    """OTel operation name; derived from the span type when the convention has none (OpenInference)."""
    if reported:
        return cv.OPERATION_ALIASES.get(reported.lower(), reported)
    return cv.SPAN_TYPE_OPERATIONS.get(span_type, "")


def normalize_provider(name: str) -> str:
    """OTel `gen_ai.provider.name` spelling of a provider; dotted vendor forms by longest prefix."""
    name = name.strip().lower()
    candidate = name
    while candidate:
        if candidate in pv.PROVIDER_ALIASES:
            return pv.PROVIDER_ALIASES[candidate]
        candidate = candidate.rpartition(".")[0]
    return name


def _provider_of(model: str) -> str:
    model = model.lower().rpartition("/")[2]
    if _is_bedrock_id(model):
        return pv.BEDROCK
    return next((provider for prefix, provider in pv.MODEL_PROVIDER_PREFIXES if model.startswith(prefix)), "")


def _is_bedrock_id(model: str) -> bool:
    """`[region.]vendor.model` (`us.anthropic.claude-3-5-sonnet-20241022-v2:0`): a Bedrock model id."""
    region = next((prefix for prefix in pv.BEDROCK_REGIONS if model.startswith(prefix)), "")
    return model.startswith(pv.BEDROCK_VENDORS, len(region))


def token_count_columns(reader: Reader, convention: str, provider: str, max_count: int) -> dict[str, int | None]:
    """Token columns, made inclusive (OTel rule) where the convention table says a count left a
    part out (`collector.usage`): cache or audio from input, reasoning or audio from output. A
    refused count (`collector.counts`) is NULL, and so is a total made from a refused whole."""
    def count(value: Any) -> int | None:
        return read_count(value, max_count)

    input_tokens, input_source = reader.first(f.INPUT_TOKENS, count)
    output, output_source = reader.first(f.OUTPUT_TOKENS, count)
    parts = {field: reader.value(field, count, 0) for field in PART_FIELDS}
    total = reader.value(f.TOTAL_TOKENS, count)
    read = {f.INPUT_TOKENS: input_tokens, f.OUTPUT_TOKENS: output, f.TOTAL_TOKENS: total, **parts}
    refused = [name for name, value in read.items() if value == REFUSED]
    if refused:
        parts = {name: 0 if value == REFUSED else value for name, value in parts.items()}
    scope = CallScope(convention, provider, reader.value(f.PROVIDER, as_text, ""), reader.attrs)
    columns: dict[str, int | None] = dict(token_columns(
        (_known(input_tokens), _known(output)), (input_source, output_source), parts,
        None if total == REFUSED else total, scope))
    for name in refused:
        columns[name] = None
    if total is None and (input_tokens == REFUSED or output == REFUSED):  # no total sent, a whole unknown
        columns[f.TOTAL_TOKENS] = None
    return columns


def _known(count: int | None) -> int:
    return 0 if count is None or count == REFUSED else count


_CHECKED_FIELDS = (*f.TOKEN_FIELDS, *f.AUDIO_TOKEN_FIELDS, f.COST_REPORTED)
_PLAIN_COST = float(MAX_REPORTED_COST)


def note_refused_counts(row: dict[str, Any], reader: Reader, max_count: int) -> None:
    """Say on the span which count and cost attributes were refused: the same reasons, from the
    same rule, as the OTLP response gave (`collector.counts`). Plain numbers in range, nearly all
    of them, skip the rule."""
    attrs, keys = reader.attrs, []
    for name in _CHECKED_FIELDS:
        bound = _PLAIN_COST if name == f.COST_REPORTED else max_count
        for _, source in reader.hits.get(name, ()):
            value = attrs[source.key]
            if not ((type(value) is int or type(value) is float) and 0 <= value <= bound):
                keys.append(source.key)
    reasons = span_refusals(attrs, set(keys), max_count) if keys else []
    if reasons:
        row[f.ATTRIBUTES][REFUSED_ATTRIBUTE] = "; ".join(reasons)
