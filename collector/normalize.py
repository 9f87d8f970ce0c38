"""Span normalization: one decoded `RawSpan` in, one `spans` row out. Pure functions, no I/O.

The mapping itself is data (`schemas.conventions`); this module applies it, `coerce` makes
odd values harmless and `messages` reads chat content. JSON-valued attributes are parsed only
when present, at most once per span (`_Reader`). Costs are left empty for pricing to fill.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any, NamedTuple

from collector.coerce import (
    as_bool,
    as_decimal,
    as_float,
    as_ns,
    as_str_list,
    as_text,
    clip,
    dumps,
    loads,
    utc_datetime,
)
from collector.counts import (
    DEFAULT_MAX_COUNT,
    MAX_REPORTED_COST,
    REFUSED,
    REFUSED_ATTRIBUTE,
    read_cost,
    read_count,
    span_refusals,
)
from collector.messages import extract_log_messages, span_content
from collector.span_names import NamedCall, named_call
from collector.usage import PART_FIELDS, CallScope, token_columns
from schemas import conventions as cv
from schemas import fields as f
from schemas.records import RawSpan

# Inside this module a span is read untyped: its fields hold whatever a decoder put there, and
# compiled (mypyc checks annotations at run time) it must not raise where the source would not.
AnySpan = Any

__all__ = ["detect_convention", "extract_log_messages", "normalize_provider", "normalize_span"]

DEFAULT_MAX_CHARS = 32768
_KINDS = ("unspecified", "internal", "server", "client", "producer", "consumer")
_STATUSES = ("unset", "ok", "error")
_BOOL_TEXT = {True: "true", False: "false"}


# Detection ranks: exact marker keys (in MARKER_KEYS order) beat attribute-name prefixes.
_MARKER_CONVENTIONS = tuple(c for c, _ in cv.MARKER_KEYS) + tuple(c for c, _ in cv.MARKER_PREFIXES)
_NO_MARKER = len(_MARKER_CONVENTIONS)
_MARKER_PREFIXES = tuple(prefix for _, prefixes in cv.MARKER_PREFIXES for prefix in prefixes)
_PREFIX_RANKS = {
    prefix: len(cv.MARKER_KEYS) + rank for rank, (_, prefixes) in enumerate(cv.MARKER_PREFIXES) for prefix in prefixes
}
_MAX_LEARNED_KEYS = 100_000  # bound on the per-name cache (attribute names are few, but never trust that)
# attribute name → (field sources it feeds, detection rank, flattened-content prefix or "")
_KeyInfo = tuple[tuple[tuple[str, int, cv.Source], ...], int, str]


def _index_keys() -> dict[str, _KeyInfo]:
    """Everything the tables say about each attribute name they mention, computed once."""
    sources: dict[str, tuple[tuple[str, int, cv.Source], ...]] = {}
    for field, entries in cv.FIELD_SOURCES.items():
        for rank, source in enumerate(entries):
            sources[source.key] = (*sources.get(source.key, ()), (field, rank, source))
    names = set(sources).union(*(markers for _, markers in cv.MARKER_KEYS))
    return {name: _describe_key(name, sources.get(name, ())) for name in names}


def _describe_key(name: str, sources: tuple[tuple[str, int, cv.Source], ...]) -> _KeyInfo:
    marker = next((rank for rank, (_, markers) in enumerate(cv.MARKER_KEYS) if name in markers), _NO_MARKER)
    if marker == _NO_MARKER and name.startswith(_MARKER_PREFIXES):
        marker = _PREFIX_RANKS[next(p for p in _MARKER_PREFIXES if name.startswith(p))]
    indexed = next((p for p in cv.INDEXED_PREFIXES if name.startswith(p)), "")
    return sources, marker, indexed


_KEY_INFO: dict[str, _KeyInfo] = _index_keys()


def _key_info(key: Any) -> _KeyInfo:
    """`_KEY_INFO` entry of any attribute name, learning (and caching) names the tables lack."""
    info = _KEY_INFO.get(key)
    if info is None:
        info = _describe_key(key, ()) if type(key) is str else ((), _NO_MARKER, "")
        if len(_KEY_INFO) < _MAX_LEARNED_KEYS:
            _KEY_INFO[key] = info
    return info


class _Plan(NamedTuple):
    """What the tables say about one set of attribute names: computed once per distinct set."""

    hits: dict[str, tuple[tuple[int, cv.Source], ...]]  # field → its sources present, in table order
    marker: int  # best convention marker rank among the names
    indexed: tuple[tuple[str, str], ...]  # (prefix, name) of flattened `prefix.{i}.…` content


_MAX_PLANS = 2_000  # name sets remembered (≤ a few MB); flattened message content makes them vary
_PLANS: dict[tuple[Any, ...], _Plan] = {}


def _plan(attrs: dict[str, Any]) -> _Plan:
    """The plan of `attrs`' names: spans of one instrumentation share it, so it is built once."""
    names = tuple(attrs)
    plan = _PLANS.get(names)
    if plan is None:
        plan = _build_plan(names)
        if len(_PLANS) < _MAX_PLANS:
            _PLANS[names] = plan
    return plan


def _build_plan(names: tuple[Any, ...]) -> _Plan:
    hits: dict[str, list[tuple[int, cv.Source]]] = {}
    marker, indexed = _NO_MARKER, []
    for name in names:
        sources, name_marker, prefix = _key_info(name)
        marker = min(marker, name_marker)
        if prefix:
            indexed.append((prefix, name))
        for field, rank, source in sources:
            hits.setdefault(field, []).append((rank, source))
    ordered = {field: tuple(sorted(found, key=_rank)) for field, found in hits.items()}
    return _Plan(ordered, marker, tuple(indexed))


class _Reader:
    """Resolves canonical fields over one span's attributes.

    The span's plan (`_plan`) says which table entries are present, the convention marker and
    the flattened `prefix.{i}.…` content attributes, so a field the span lacks costs one dict
    lookup however many sources it has. JSON blobs are parsed once, and only when read.
    """

    __slots__ = ("attrs", "blobs", "hits", "indexed", "llm", "marker")

    def __init__(self, attrs: dict[str, Any], llm: bool) -> None:
        self.attrs = attrs
        self.blobs: dict[str, Any] = {}
        self.llm = llm
        plan = _plan(attrs)
        self.hits = plan.hits
        self.marker = plan.marker
        self.indexed: dict[str, dict[str, Any]] = {}
        for prefix, name in plan.indexed:
            self.indexed.setdefault(prefix, {})[name[len(prefix):]] = attrs[name]

    def first(self, field: str, coerce: Any, streaming: bool = False) -> tuple[Any, cv.Source | None]:
        """First non-null source of `field` in table order, and which source it was."""
        found = self.hits.get(field)
        if found is None:
            return None, None
        attrs = self.attrs
        for _, source in found:
            raw = attrs[source.key]
            if raw is None or (source.streaming_only and not streaming) or (source.llm_only and not self.llm):
                continue
            if source.path:
                raw = _dig(self.blob(source.key), source.path)
            value = None if raw is None else coerce(raw)
            if value is not None and not (source.zero_is_null and value == 0):
                return value, source
        return None, None

    def value(self, field: str, coerce: Any, default: Any = None) -> Any:
        if field not in self.hits:
            return default
        found, _ = self.first(field, coerce)
        return default if found is None else found

    def blob(self, key: str) -> Any:
        if key not in self.blobs:
            raw = self.attrs.get(key)
            self.blobs[key] = raw if isinstance(raw, dict | list) else loads(raw)
        return self.blobs[key]


def _rank(entry: tuple[int, cv.Source]) -> int:
    return entry[0]


def _dig(node: Any, path: tuple[str, ...]) -> Any:
    for step in path:
        if isinstance(node, list) and cv.ITEM_WHERE in step:
            node = _item_where(node, step)
        elif not isinstance(node, dict):
            return None
        else:
            node = _sum_parts(node) if step == cv.SUM_OF_PARTS else node.get(step)
    return node


def _item_where(items: list[Any], step: str) -> Any:
    """The first object of `items` whose `key` is `value` (step `key=value`), matched case-blind."""
    key, _, value = step.partition(cv.ITEM_WHERE)
    value = value.lower()
    for item in items:
        if isinstance(item, dict) and str(item.get(key, "")).lower() == value:
            return item
    return None


def _sum_parts(parts: dict[str, Any]) -> Decimal | None:
    """Total of a cost breakdown that has no total of its own; None when no part is a number."""
    amounts = [as_decimal(value) for value in parts.values() if type(value) in (int, float, str)]
    found = [amount for amount in amounts if amount is not None]
    return sum(found, Decimal(0)) if found else None


def detect_convention(span: RawSpan) -> str:
    """Which GenAI convention a span follows ('' for a span that is not GenAI at all)."""
    raw: AnySpan = span
    attrs = raw.attributes if isinstance(raw.attributes, dict) else {}
    marker = min((_key_info(key)[1] for key in attrs), default=_NO_MARKER)
    return _convention(raw.scope_name, attrs, marker)


def _convention(scope: Any, attrs: dict[str, Any], marker: int) -> str:
    """Scope name first (most specific), then OpenLIT's sdk stamp, then attribute markers."""
    scope = scope if isinstance(scope, str) else ""
    for prefix, convention in cv.SCOPE_CONVENTIONS:
        if scope.startswith(prefix):
            return convention
    if scope == cv.VERCEL_SCOPE:
        return cv.VERCEL_AI
    if attrs.get(cv.SDK_NAME_KEY) == cv.OPENLIT_SDK_NAME:
        return cv.OPENLIT
    return _MARKER_CONVENTIONS[marker] if marker < _NO_MARKER else cv.NO_CONVENTION


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


def normalize_span(span: RawSpan, project_id: str, max_chars: int = DEFAULT_MAX_CHARS,
                   max_count: int = DEFAULT_MAX_COUNT) -> dict[str, Any]:
    """The `spans` row for one span: every column of `fields.SPAN_COLUMNS`, costs left to pricing.
    Token counts above `max_count` are refused (see `collector.counts`)."""
    raw: AnySpan = span
    attrs = raw.attributes if isinstance(raw.attributes, dict) else {}
    name = _text(raw.name)
    span_type = _span_type(name, attrs)
    named = named_call(name, _text(raw.scope_name)) if span_type == f.TYPE_OTHER else None
    span_type = named.span_type if named is not None else span_type
    reader = _Reader(attrs, span_type == f.TYPE_LLM)
    row = _identity_columns(raw, project_id, name, reader)
    row[f.CONVENTION] = _convention(raw.scope_name, attrs, reader.marker)
    row[f.SPAN_TYPE] = span_type
    row.update(_model_columns(reader, span_type, row[f.STATUS_CODE] == "error", named))
    row.update(_token_columns(reader, row[f.CONVENTION], row[f.PROVIDER], max_count))
    row.update(_timing_columns(raw, reader, name))
    row.update(_context_columns(raw, reader, max_chars))
    row.update(_content_columns(raw, reader, span_type, max_chars))
    _note_refused_counts(row, reader, max_count)
    row[f.IS_CALL] = span_type in f.CALL_TYPES
    row[f.CALL_KEY] = row[f.RESPONSE_ID] or row[f.SPAN_ID]
    return row


def _text(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


def _identity_columns(span: AnySpan, project_id: str, name: str, reader: _Reader) -> dict[str, Any]:
    start, end = _nanos(span.start_ns), _nanos(span.end_ns)
    status = _enum(_STATUSES, span.status_code)
    if reader.attrs.get(cv.LANGFUSE_LEVEL) == cv.LANGFUSE_ERROR_LEVEL:
        status = "error"
    return {
        f.PROJECT_ID: _text(project_id), f.TRACE_ID: _text(span.trace_id), f.SPAN_ID: _text(span.span_id),
        f.PARENT_SPAN_ID: _text(span.parent_span_id), f.NAME: name, f.KIND: _enum(_KINDS, span.kind),
        f.SCOPE_NAME: _text(span.scope_name), f.START_TIME: utc_datetime(start),
        f.END_TIME: utc_datetime(end),
        f.DURATION_MS: max(end - start, 0) / 1e6, f.STATUS_CODE: status,
        f.STATUS_MESSAGE: _text(span.status_message) or reader.value(f.STATUS_MESSAGE, as_text, ""),
    }


def _enum(names: tuple[str, ...], code: Any) -> str:
    """OTLP enum int → name; anything unknown → the zero value ('unspecified' / 'unset')."""
    return names[code] if type(code) is int and 0 <= code < len(names) else names[0]


def _nanos(value: Any) -> int:
    return value if type(value) is int and value > 0 else 0


def _model_columns(reader: _Reader, span_type: str, failed: bool, named: NamedCall | None) -> dict[str, Any]:
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
        if candidate in cv.PROVIDER_ALIASES:
            return cv.PROVIDER_ALIASES[candidate]
        candidate = candidate.rpartition(".")[0]
    return name


def _provider_of(model: str) -> str:
    model = model.lower().rpartition("/")[2]
    if _is_bedrock_id(model):
        return cv.BEDROCK
    return next((provider for prefix, provider in cv.MODEL_PROVIDER_PREFIXES if model.startswith(prefix)), "")


def _is_bedrock_id(model: str) -> bool:
    """`[region.]vendor.model` (`us.anthropic.claude-3-5-sonnet-20241022-v2:0`): a Bedrock model id."""
    region = next((prefix for prefix in cv.BEDROCK_REGIONS if model.startswith(prefix)), "")
    return model.startswith(cv.BEDROCK_VENDORS, len(region))


def _token_columns(reader: _Reader, convention: str, provider: str, max_count: int) -> dict[str, int | None]:
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


def _note_refused_counts(row: dict[str, Any], reader: _Reader, max_count: int) -> None:
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




def _timing_columns(span: AnySpan, reader: _Reader, name: str) -> dict[str, Any]:
    streaming = reader.value(cv.STREAM, as_bool)
    if streaming is None and _vercel_operation(name, reader.attrs) in cv.STREAMING_SPAN_NAMES:
        streaming = True
    ttft = _ttft_ms(span, reader, bool(streaming))
    # No stream flag: a first-token time is itself the evidence that the call streamed.
    return {f.TTFT_MS: ttft, f.STREAMING: streaming if streaming is not None else ttft is not None}


def _vercel_operation(name: str, attrs: dict[str, Any]) -> str:
    """The Vercel AI SDK's operation id: ai.operationId, else the first word of operation.name
    (older SDKs, renamed spans), else the span name; lower-cased."""
    for key in cv.VERCEL_OPERATION_KEYS:
        value = attrs.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip().partition(" ")[0].lower()
    return name.lower()


def _ttft_ms(span: AnySpan, reader: _Reader, streaming: bool) -> float | None:
    """TTFT from an attribute (scaled to ms), a first-token timestamp, or a first-chunk event."""
    value, source = reader.first(f.TTFT_MS, as_float, streaming)
    if source is not None:
        return value * source.scale if value >= 0 else None
    start = _nanos(span.start_ns)
    first_ns = reader.value(cv.FIRST_TOKEN_TIME, as_ns) or _first_token_event(span.events)
    if first_ns is None or not start or first_ns < start:
        return None
    return (first_ns - start) / 1e6


def _first_token_event(events: Any) -> int | None:
    times = [e.time_ns for e in events if e.name in cv.FIRST_TOKEN_EVENTS and type(e.time_ns) is int]
    return min(times) if times else None


def _context_columns(span: AnySpan, reader: _Reader, max_chars: int) -> dict[str, Any]:
    resource = span.resource if isinstance(span.resource, dict) else {}
    service, environment, resource_map = _resource_columns(resource, max_chars)
    if not service or service.startswith(cv.UNKNOWN_SERVICE_PREFIX):  # the SDK default: the span may know better
        service = reader.value(f.SERVICE_NAME, as_text) or service
    return {
        f.SERVICE_NAME: service,
        f.ENVIRONMENT: environment or reader.value(f.ENVIRONMENT, as_text, ""),
        f.ERROR_TYPE: reader.value(f.ERROR_TYPE, as_text) or _exception_type(span.events),
        f.CACHE_HIT: reader.value(f.CACHE_HIT, as_bool, False),
        **dict.fromkeys(f.COST_FIELDS), **dict.fromkeys(f.AUDIO_COST_FIELDS), f.COST_SOURCE: f.SOURCE_NONE,
        f.COST_REPORTED: reader.value(f.COST_REPORTED, read_cost),
        f.COST_COMPUTED: None,
        f.USER_ID: reader.value(f.USER_ID, as_text, ""),
        f.SESSION_ID: reader.value(f.SESSION_ID, as_text, ""),
        f.TAGS: reader.value(f.TAGS, as_str_list, []),
        f.ATTRIBUTES: _string_map(reader.attrs, max_chars),
        f.RESOURCE_ATTRIBUTES: resource_map,
        f.EVENTS: _events_json(span.events, max_chars),
        f.LINKS: _links_json(span.links, max_chars),
    }


def _resource_columns(resource: dict[str, Any], max_chars: int) -> tuple[str, str, dict[str, str]]:
    """(service name, environment, string map) of a resource.

    The decoder shares one resource dict among all the spans of a ResourceSpans, so the last
    result is reused; the map is copied because a row may be edited downstream (redaction).
    """
    global _last_resource
    cached, chars, columns = _last_resource
    if cached is not resource or chars != max_chars:
        service, environment = _from_resource(resource, f.SERVICE_NAME), _from_resource(resource, f.ENVIRONMENT)
        columns = (service, environment, _string_map(resource, max_chars))
        _last_resource = (resource, max_chars, columns)
    return columns[0], columns[1], dict(columns[2])


_last_resource: tuple[Any, int, tuple[str, str, dict[str, str]]] = (None, 0, ("", "", {}))


def _from_resource(resource: dict[str, Any], field: str) -> str:
    return next((text for key in cv.RESOURCE_SOURCES[field] if (text := as_text(resource.get(key)))), "")


def _exception_type(events: Any) -> str:
    for event in events:
        if event.name == cv.EXCEPTION_EVENT and (found := as_text(event.attributes.get(cv.EXCEPTION_TYPE))):
            return found
    return ""


def _string_map(values: dict[Any, Any], max_chars: int) -> dict[str, str]:
    """Every attribute kept: strings clipped, anything else JSON-encoded (then clipped)."""
    out = {}
    for key, value in values.items():
        kind = type(value)
        if kind is str:
            text = value
        elif kind is int or (kind is float and math.isfinite(value)):
            text = repr(value)  # what JSON would write, without the encoder's per-call cost
        elif kind is float:
            text = _non_finite_text(value)
        else:
            text = _BOOL_TEXT[value] if kind is bool else dumps(value)
        out[key if type(key) is str else str(key)] = text if len(text) <= max_chars else clip(text, max_chars)
    return out


def _non_finite_text(value: float) -> str:
    """A NaN or infinite attribute as proto3 JSON spells it (JSON itself has no spelling for them)."""
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def _clip_values(values: dict[str, Any], max_chars: int) -> dict[str, Any]:
    return {str(k): clip(v, max_chars) if isinstance(v, str) else v for k, v in values.items()}


def _events_json(events: Any, max_chars: int) -> str:
    if not events:
        return "[]"
    return dumps([
        {"name": e.name, "time_unix_nano": e.time_ns, "attributes": _clip_values(e.attributes, max_chars)}
        for e in events
    ])


def _links_json(links: Any, max_chars: int) -> str:
    if not links:
        return "[]"
    return dumps([
        {"trace_id": k.trace_id, "span_id": k.span_id, "attributes": _clip_values(k.attributes, max_chars)}
        for k in links
    ])


def _content_columns(span: AnySpan, reader: _Reader, span_type: str, max_chars: int) -> dict[str, Any]:
    inputs, outputs, documents = span_content(span, reader.attrs, reader.indexed, span_type, max_chars)
    return {
        f.INPUT_MESSAGES: dumps(inputs) if inputs else "",
        f.OUTPUT_MESSAGES: dumps(outputs) if outputs else "",
        f.RETRIEVAL_DOCUMENTS: dumps(documents) if documents else "",
        f.FINISH_REASONS: _finish_reasons(reader, outputs),
    }


def _finish_reasons(reader: _Reader, outputs: list[dict[str, Any]]) -> list[str]:
    """Reported finish reasons, else the ones the output messages carry (openai-v2 streaming)."""
    reported = reader.value(f.FINISH_REASONS, as_str_list)
    return reported or [m["finish_reason"] for m in outputs if "finish_reason" in m]
