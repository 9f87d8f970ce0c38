"""The ClickHouse SELECT that normalizes raw OTLP spans, generated from `schemas.conventions`.

The SQL ingest path hands ClickHouse the request bodies as they came (FORMAT Protobuf into a
Null table); a materialized view runs this SELECT to flatten them (ARRAY JOIN) and to fill
every `spans` column as `collector.normalize` does.

The convention tables become *data* in the query, not code: every source of every canonical
field is one entry of constant arrays (attribute key, JSON path, guards), looked up per span
by a handful of lambdas, one per coercion (`schemas.sqlsources`). ClickHouse analyses a view's query at every INSERT
at roughly 0.1 ms per expression node, so a query written out per source (a `coalesce` of a
hundred coercions) costs seconds per insert; this shape stays small however long the tables
grow. Columns are computed in stages (nested subqueries) because ClickHouse copies an alias's
expression into every use. Intermediates are named `n_*`; message content and costs are left
to later steps (`SQL_UNSET_COLUMNS`).
"""

from __future__ import annotations

from schemas import conventions as cv
from schemas import fields as f
from schemas.sqlcoerce import (
    STRING,
    Val,
    any_value_type,
    as_text,
    clip,
    json_string,
    lit,
    lits,
    render_text,
    strip,
    truthy,
)
from schemas.sqlsources import (
    RESOURCE,
    attr,
    candidate_values,
    family_columns,
    field_slice,
    first_text,
    first_value,
    ints,
)

MAX_CHARS = 32768  # collector.normalize.DEFAULT_MAX_CHARS (schemas never import collector)
VALUE_DEPTH = 2  # nested arrays/kvlists read inside an attribute value
# Columns the SQL path does not fill: content is for the read side or a Python step, costs for pricing.
SQL_UNSET_COLUMNS = (f.INPUT_MESSAGES, f.OUTPUT_MESSAGES, f.RETRIEVAL_DOCUMENTS, *f.COST_FIELDS, f.COST_SOURCE)
_KINDS = ("unspecified", "internal", "server", "client", "producer", "consumer")
_STATUSES = ("unset", "ok", "error")
Stage = list[tuple[str, str]]


def input_columns() -> str:
    """Columns of the Null input table: IngestRequest as ClickHouse reads it (Protobuf)."""
    key_values = f"Array(Tuple(key String, value {any_value_type(VALUE_DEPTH)}))"
    span = (f"Tuple(trace_id String, span_id String, parent_span_id String, name String, kind Int32, "
            f"start_time_unix_nano UInt64, end_time_unix_nano UInt64, attributes {key_values}, "
            f"events Array(Tuple(time_unix_nano UInt64, name String, attributes {key_values})), "
            f"links Array(Tuple(trace_id String, span_id String, attributes {key_values})), "
            f"status Tuple(message String, code Int32))")
    scopes = f"Array(Tuple(scope Tuple(name String, version String), spans Array({span})))"
    return (f"llmpulse_project_id String, resource_spans Array(Tuple(resource Tuple(attributes {key_values}), "
            f"scope_spans {scopes}))")


def normalize_select(source: str, max_chars: int = MAX_CHARS) -> str:
    """SELECT of every `spans` column (fields.SPAN_COLUMNS order) from the input table `source`."""
    query = _flatten(source)
    for stage in _stages(max_chars):
        columns = ",\n  ".join(f"{expr} AS {name}" for name, expr in stage)
        query = f"SELECT *,\n  {columns}\nFROM ({query})"
    return f"SELECT {', '.join(f.SPAN_COLUMNS)}\nFROM ({query})"


def _flatten(source: str) -> str:
    """One row per valid span (ids the Python decoder refuses are dropped here too). Only plain
    columns leave this level: all key-values (span, resource, events, links) are rendered here,
    in one array, and the wide AnyValue tuples go no further (every stage pays for their type)."""
    every = ("arrayConcat(sp.attributes, rs.resource.attributes, arrayFlatten(arrayMap(e -> e.attributes, "
             "sp.events)), arrayFlatten(arrayMap(l -> l.attributes, sp.links)))")
    columns = [
        "llmpulse_project_id AS n_project", "ss.scope.name AS n_scope", "sp.trace_id AS n_trace",
        "sp.span_id AS n_span", "sp.parent_span_id AS n_parent", "sp.name AS n_name", "sp.kind AS n_kind",
        "sp.start_time_unix_nano AS n_start", "sp.end_time_unix_nano AS n_end",
        "sp.status.code AS n_status_code", "sp.status.message AS n_status_message",
        "arrayMap(e -> e.name, sp.events) AS n_event_names",
        "arrayMap(e -> e.time_unix_nano, sp.events) AS n_event_times",
        "arrayMap(e -> length(e.attributes), sp.events) AS n_event_sizes",
        "arrayMap(l -> lower(hex(l.trace_id)), sp.links) AS n_link_traces",
        "arrayMap(l -> lower(hex(l.span_id)), sp.links) AS n_link_spans",
        "arrayMap(l -> length(l.attributes), sp.links) AS n_link_sizes",
        "length(sp.attributes) AS n_span_count", "length(rs.resource.attributes) AS n_resource_count",
        f"arrayMap(x -> x.key, {every}) AS n_keys", f"arrayMap(x -> toInt8(x.value.value), {every}) AS n_kinds",
        f"arrayMap(x -> {render_text('x.value', VALUE_DEPTH)}, {every}) AS n_texts",
    ]
    valid = ("length(sp.trace_id) = 16 AND sp.trace_id != repeat('\\0', 16) AND length(sp.span_id) = 8 "
             "AND sp.span_id != repeat('\\0', 8) AND length(sp.parent_span_id) IN (0, 8)")
    return (f"SELECT {', '.join(columns)} FROM {source} ARRAY JOIN resource_spans AS rs "
            f"ARRAY JOIN rs.scope_spans AS ss ARRAY JOIN ss.spans AS sp WHERE {valid}")


def _stages(max_chars: int) -> list[Stage]:
    """Columns in dependency order, one subquery per stage."""
    return [
        _split_columns(),
        [*_identity_columns(), (f.CONVENTION, _convention()), (f.SPAN_TYPE, _span_type())],
        [("n_candidates", candidate_values())],
        [*family_columns(), *_context_columns(max_chars)],
        [*_field_columns(), *_timing_columns()],
        [("n_provider", _normalized_provider("n_provider_name")), (f.OPERATION, _operation()),
         ("n_cached", "cache_read_tokens + cache_write_tokens"),
         ("n_input", "ifNull(arrayFirst(x -> x IS NOT NULL, n_input_values), 0)"),
         # 1-based position of the input source that won (0: none), for EXCLUSIVE_INPUT.
         ("n_input_source", "arrayFirstIndex(x -> x IS NOT NULL, n_input_values)"),
         (f.TTFT_MS, "if(n_ttft_attr IS NOT NULL, if(n_ttft_attr >= 0, n_ttft_attr, NULL), n_ttft_time)"),
         (f.IS_CALL, f"span_type IN {_in_list(f.CALL_TYPES)}"),
         (f.CALL_KEY, "if(response_id != '', response_id, span_id)")],
        [(f.PROVIDER, f"if(n_provider != '', n_provider, {_provider_of_model()})"),
         (f.STREAMING, "if(n_streaming IS NULL, ttft_ms IS NOT NULL, n_streaming)")],
        # Safety net: more cache than input means the input excluded it.
        [("n_add_cache", f"n_cached > 0 AND (n_cached > n_input OR {_excludes_cache()})")],
        [(f.INPUT_TOKENS, "if(n_add_cache, n_input + n_cached, n_input)"),
         (f.TOTAL_TOKENS, "if(n_add_cache, greatest(ifNull(n_total, 0), input_tokens + output_tokens), "
                          "ifNull(n_total, input_tokens + output_tokens))")],
    ]


def _split_columns() -> Stage:
    """Span and resource key-values reversed (indexOf then finds the last duplicate, as a dict
    keeps the last value); events' and links' rendered values in order."""
    span, resource = "1, n_span_count", "n_span_count + 1, n_resource_count"
    columns = []
    for prefix, bounds in (("a", span), ("r", resource)):
        columns += [(f"{prefix}_{part}", f"arrayReverse(arraySlice(n_{part}, {bounds}))")
                    for part in ("keys", "kinds", "texts")]
    columns += [(f"n_nested_{part}", f"arraySlice(n_{part}, n_span_count + n_resource_count + 1)")
                for part in ("keys", "kinds", "texts")]
    return columns


# --- lookups -------------------------------------------------------------------------------


def _in_list(items: tuple[str, ...] | list[str]) -> str:
    return "(" + ", ".join(lit(item) for item in items) + ")"


def _lookup(value: str, table: dict[str, str], default: str) -> str:
    return f"transform({value}, {lits(list(table))}, {lits(list(table.values()))}, {default})"


# --- columns -------------------------------------------------------------------------------


def _identity_columns() -> Stage:
    level = attr(cv.LANGFUSE_LEVEL)
    status = f"if(n_status_code BETWEEN 0 AND 2, {lits(_STATUSES)}[n_status_code + 1], 'unset')"
    langfuse_error = f"{level.kind} = {STRING} AND {level.text} = {lit(cv.LANGFUSE_ERROR_LEVEL)}"
    start, end = "n_start", "n_end"
    return [
        (f.PROJECT_ID, "n_project"), (f.TRACE_ID, "lower(hex(n_trace))"),
        (f.SPAN_ID, "lower(hex(n_span))"), (f.PARENT_SPAN_ID, "lower(hex(n_parent))"),
        (f.NAME, "n_name"), (f.KIND, f"if(n_kind BETWEEN 0 AND 5, {lits(_KINDS)}[n_kind + 1], 'unspecified')"),
        (f.SCOPE_NAME, "n_scope"),
        (f.START_TIME, f"fromUnixTimestamp64Micro(toInt64(intDiv({start}, 1000)), 'UTC')"),
        (f.END_TIME, f"fromUnixTimestamp64Micro(toInt64(intDiv({end}, 1000)), 'UTC')"),
        (f.DURATION_MS, f"toFloat64(if({end} > {start}, {end} - {start}, 0)) / 1e6"),
        (f.STATUS_CODE, f"if({langfuse_error}, 'error', {status})"),
    ]


def _convention() -> str:
    """Scope name first, then OpenLIT's sdk stamp, then marker keys, then marker prefixes."""
    sdk = attr(cv.SDK_NAME_KEY)
    cases = [f"startsWith(n_scope, {lit(prefix)}), {lit(name)}" for prefix, name in cv.SCOPE_CONVENTIONS]
    cases.append(f"n_scope = {lit(cv.VERCEL_SCOPE)}, {lit(cv.VERCEL_AI)}")
    cases.append(f"{sdk.kind} = {STRING} AND {sdk.text} = {lit(cv.OPENLIT_SDK_NAME)}, {lit(cv.OPENLIT)}")
    cases += [f"hasAny(a_keys, {lits(sorted(markers))}), {lit(name)}" for name, markers in cv.MARKER_KEYS]
    for name, prefixes in cv.MARKER_PREFIXES:
        test = " OR ".join(f"startsWith(k, {lit(p)})" for p in prefixes)
        cases.append(f"arrayExists(k -> {test}, a_keys), {lit(name)}")
    return f"multiIf({', '.join(cases)}, {lit(cv.NO_CONVENTION)})"


def _span_type() -> str:
    """SPAN_TYPE_SOURCES as one (attribute, value) → type table, then the span name, then a
    model attribute."""
    pairs = {f"{key}={value}": kind for key, table in cv.SPAN_TYPE_SOURCES for value, kind in table.items()}
    hint = Val("a_kinds[indexOf(a_keys, k)]", "a_texts[indexOf(a_keys, k)]")
    pair = f"concat(k, '=', lowerUTF8({strip(hint.text)}))"
    typed = f"if({hint.kind} = {STRING}, {_lookup(pair, pairs, lit(''))}, '')"
    hinted = f"arrayFirst(x -> x != '', arrayMap(k -> {typed}, {lits([key for key, _ in cv.SPAN_TYPE_SOURCES])}))"
    by_name = _lookup("lowerUTF8(n_name)", cv.VERCEL_SPAN_TYPES, "''")
    model = f"arrayExists(k -> {truthy(hint)}, {lits(cv.MODEL_HINT_KEYS)})"
    return (f"multiIf({hinted} != '', {hinted}, {by_name} != '', {by_name}, {model}, "
            f"'{f.TYPE_LLM}', '{f.TYPE_OTHER}')")


def _field_columns() -> Stage:
    return [
        ("n_model_name", first_text(cv.MODEL_NAME)),
        (f.REQUEST_MODEL, f"ifNull({first_value(f.REQUEST_MODEL)}, n_model_name)"),
        (f.RESPONSE_MODEL, f"ifNull({first_value(f.RESPONSE_MODEL)}, n_model_name)"),
        ("n_provider_name", f"lowerUTF8({strip(first_text(f.PROVIDER))})"),
        ("n_operation", first_text(f.OPERATION)),
        (f.RESPONSE_ID, first_text(f.RESPONSE_ID)), (f.SYSTEM_FINGERPRINT, first_text(f.SYSTEM_FINGERPRINT)),
        (f.STATUS_MESSAGE, f"if(n_status_message != '', n_status_message, {first_text(f.STATUS_MESSAGE)})"),
        ("n_input_values", field_slice(f.INPUT_TOKENS)),
        *((field, f"ifNull({first_value(field)}, 0)") for field in (
            f.OUTPUT_TOKENS, f.CACHE_READ_TOKENS, f.CACHE_WRITE_TOKENS, f.REASONING_TOKENS)),
        ("n_total", first_value(f.TOTAL_TOKENS)),
        ("n_resource_service", first_text(RESOURCE + f.SERVICE_NAME)),
        (f.SERVICE_NAME, f"if(n_resource_service = '' OR startsWith(n_resource_service, "
                         f"{lit(cv.UNKNOWN_SERVICE_PREFIX)}), ifNull({first_value(f.SERVICE_NAME)}, "
                         f"n_resource_service), n_resource_service)"),
        ("n_resource_environment", first_text(RESOURCE + f.ENVIRONMENT)),
        (f.ENVIRONMENT, f"if(n_resource_environment != '', n_resource_environment, {first_text(f.ENVIRONMENT)})"),
        (f.ERROR_TYPE, f"ifNull({first_value(f.ERROR_TYPE)}, n_exception_type)"),
        (f.CACHE_HIT, f"ifNull({first_value(f.CACHE_HIT)}, false)"),
        (f.COST_REPORTED, first_value(f.COST_REPORTED)),
        (f.USER_ID, first_text(f.USER_ID)), (f.SESSION_ID, first_text(f.SESSION_ID)),
        (f.TAGS, first_value(f.TAGS)),
        (f.FINISH_REASONS, f"if(notEmpty({first_value(f.FINISH_REASONS)}), {first_value(f.FINISH_REASONS)}, "
                           f"{_message_finish_reasons()})"),
    ]


def _message_finish_reasons() -> str:
    """Finish reasons carried by the output messages (openai-v2 streaming reports none
    otherwise). Only the parts-based carrier is read here; the Python path reads whichever
    output carrier wins (see SQL_UNSET_COLUMNS: content is not derived in SQL)."""
    messages = f"JSONExtractArrayRaw({attr(cv.PARTS_OUTPUT).text})"
    reason = f"{strip('JSONExtractString(m, ' + lit('finish_reason') + ')')}"
    return f"arrayFilter(x -> x != '', arrayMap(m -> {reason}, {messages}))"


def _operation() -> str:
    """OTel operation name; derived from the span type when the convention has none."""
    aliased = _lookup("lowerUTF8(n_operation)", cv.OPERATION_ALIASES, "n_operation")
    return f"if(n_operation != '', {aliased}, {_lookup('span_type', cv.SPAN_TYPE_OPERATIONS, lit(''))})"


def _normalized_provider(name: str) -> str:
    """`normalize.normalize_provider`: the name, else its longest dotted prefix that is known."""
    aliases = cv.PROVIDER_ALIASES
    most = max(alias.count(".") + 1 for alias in aliases)
    prefixes = ", ".join(f"arrayStringConcat(arraySlice(splitByChar('.', {name}), 1, {size}), '.')"
                         for size in range(most, 0, -1))
    found = f"arrayFirst(x -> has({lits(list(aliases))}, x), [{name}, {prefixes}])"
    return f"{_lookup(found, aliases, name)}"


def _provider_of_model() -> str:
    model = "arrayElement(splitByChar('/', lowerUTF8(if(request_model != '', request_model, response_model))), -1)"
    prefixes = [prefix for prefix, _ in cv.MODEL_PROVIDER_PREFIXES]
    providers = [provider for _, provider in cv.MODEL_PROVIDER_PREFIXES]
    return f"arrayElement({lits(providers)}, arrayFirstIndex(p -> startsWith({model}, p), {lits(prefixes)}))"


def _excludes_cache() -> str:
    """`EXCLUSIVE_INPUT` as constant arrays: does a rule say the winning input source excluded
    the cached tokens?"""
    positions = {source.source_id: i for i, source in enumerate(cv.FIELD_SOURCES[f.INPUT_TOKENS], 1)}
    rules = [rule for rule in cv.EXCLUSIVE_INPUT if rule.source in positions]
    providers = lits(["" if rule.provider == cv.ANY else rule.provider for rule in rules])
    unless = "[" + ", ".join(lits(rule.unless) if rule.unless else "[]" for rule in rules) + "]"
    test = ("rc = convention AND rs = n_input_source AND (rp = '' OR rp = provider) "
            "AND NOT hasAny(a_keys, ru)")
    return (f"arrayExists((rc, rs, rp, ru) -> {test}, {lits([rule.convention for rule in rules])}, "
            f"{ints([positions[rule.source] for rule in rules])}, {providers}, {unless})")


def _timing_columns() -> Stage:
    names = _in_list(sorted(cv.STREAMING_SPAN_NAMES))
    stream = first_value(cv.STREAM)
    streaming_only = ints([int(s.streaming_only) for s in cv.FIELD_SOURCES[f.TTFT_MS]])
    ttft = (f"arrayFirst(x -> x IS NOT NULL, arrayMap((v, only) -> if(only AND NOT ifNull(n_streaming, false), "
            f"NULL, v), {field_slice(f.TTFT_MS)}, {streaming_only}))")
    event_times = (f"arrayMap(t -> toInt64(t), arrayFilter((t, e) -> e IN {_in_list(sorted(cv.FIRST_TOKEN_EVENTS))}, "
                   "n_event_times, n_event_names))")
    start = "toInt64(n_start)"
    return [
        ("n_streaming", f"if({stream} IS NULL AND lowerUTF8(n_name) IN {names}, true, {stream})"),
        ("n_ttft_attr", ttft),
        ("n_first_ns", f"ifNull(nullIf(ifNull({first_value(cv.FIRST_TOKEN_TIME)}, 0), 0), "
                       f"if(empty({event_times}), NULL, arrayMin({event_times})))"),
        ("n_ttft_time", f"if(n_first_ns IS NULL OR {start} <= 0 OR n_first_ns < {start}, NULL, "
                        f"(n_first_ns - {start}) / 1e6)"),
    ]


def _context_columns(max_chars: int) -> Stage:
    return [
        ("n_exception_type", _exception_type()),
        *((column, "CAST(NULL, 'Nullable(Decimal(38, 12))')") for column in f.COST_FIELDS),
        (f.COST_SOURCE, lit(f.SOURCE_NONE)),
        (f.ATTRIBUTES, _string_map("a", max_chars)), (f.RESOURCE_ATTRIBUTES, _string_map("r", max_chars)),
        *_nested_json_columns(max_chars),
        *((column, "''") for column in (f.INPUT_MESSAGES, f.OUTPUT_MESSAGES, f.RETRIEVAL_DOCUMENTS)),
    ]


def _starts(sizes: str, base: str = "0") -> str:
    """1-based start of each item's key-values in the nested arrays, from the items' sizes."""
    return f"arrayMap((c, s) -> c - s + 1 + {base}, arrayCumSum({sizes}), {sizes})"


def _exception_type() -> str:
    """`exception.type` of the first `exception` event that has one (its last duplicate wins)."""
    last = f"arrayLastIndex(k -> k = {lit(cv.EXCEPTION_TYPE)}, arraySlice(n_nested_keys, o, s))"
    index = f"if({last} = 0, 0, o - 1 + {last})"
    value = Val("n_nested_kinds[i]", "n_nested_texts[i]")
    found = f"arrayMap(i -> if(i = 0, '', ifNull({as_text(value)}, '')), [{index}])[1]"
    per_event = (f"arrayMap((e, o, s) -> if(e = {lit(cv.EXCEPTION_EVENT)}, {found}, ''), n_event_names, "
                 f"{_starts('n_event_sizes')}, n_event_sizes)")
    return f"arrayFirst(t -> t != '', {per_event})"


def _string_map(prefix: str, max_chars: int) -> str:
    return (f"mapFromArrays(arrayReverse({prefix}_keys), "
            f"arrayReverse(arrayMap(v -> {clip('v', max_chars)}, {prefix}_texts)))")


def _nested_json_columns(max_chars: int) -> Stage:
    """events and links as `dumps` writes them: attribute strings clipped, other values as is."""
    value = f"if(kind IN (1, 7), {json_string(clip('t', max_chars))}, t)"
    nested = ", ".join(f"arraySlice(n_nested_{part}, o, s)" for part in ("keys", "kinds", "texts"))
    pairs = f"arrayStringConcat(arrayMap((key, kind, t) -> concat({json_string('key')}, ':', {value}), {nested}), ',')"
    event = (f"concat('{{\"name\":', {json_string('name')}, ',\"time_unix_nano\":', toString(time), "
             f"',\"attributes\":{{', {pairs}, '}}}}')")
    link = ("concat('{\"trace_id\":\"', trace, '\",\"span_id\":\"', span, "
            f"'\",\"attributes\":{{', {pairs}, '}}}}')")
    events = (f"arrayMap((name, time, o, s) -> {event}, n_event_names, n_event_times, "
              f"{_starts('n_event_sizes')}, n_event_sizes)")
    links = (f"arrayMap((trace, span, o, s) -> {link}, n_link_traces, n_link_spans, "
             f"{_starts('n_link_sizes', 'arraySum(n_event_sizes)')}, n_link_sizes)")
    return [(f.EVENTS, f"if(empty(n_event_names), '[]', concat('[', arrayStringConcat({events}, ','), ']'))"),
            (f.LINKS, f"if(empty(n_link_spans), '[]', concat('[', arrayStringConcat({links}, ','), ']'))")]
