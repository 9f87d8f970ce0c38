"""ClickHouse SQL fragments that do what `collector.coerce` does, for the SQL ingest path.

An attribute value is carried as a pair of SQL expressions (`Val`): its AnyValue kind (the
oneof case number, 0 when absent) and its text as the Python path renders it in the
`attributes` map (strings as they are, numbers as Python's repr, bools as true/false, arrays
and kvlists as compact JSON). Every coercion reads that pair and yields NULL where the Python
coercion yields None, so "first non-null source wins" becomes a plain `coalesce`.
Values dug out of a JSON attribute are the same pair, their kind taken from `JSONType`.
"""

from __future__ import annotations

from dataclasses import dataclass

NONE, STRING, BOOL, INT, DOUBLE, ARRAY, KVLIST, BYTES = range(8)
_TRUE = ("true", "1", "yes", "y", "on", "hit")
_FALSE = ("false", "0", "no", "n", "off", "miss", "")
_WHITESPACE = " \\t\\n\\r\\x0B\\x0C"  # what Python's str.strip() removes (ASCII part)
_MAX_UINT = 2**63 - 1
_JSON_KINDS = "['String','Bool','Int64','UInt64','Double','Array','Object'], [1,2,3,3,4,5,6]"
_NS_SCALES = ((1e17, 1), (1e14, 1e3), (1e11, 1e6))


@dataclass(frozen=True, slots=True)
class Val:
    """One attribute value as SQL: `kind` (Int8 expression, AnyValue case) and `text`."""

    kind: str
    text: str


def lit(text: str) -> str:
    """A ClickHouse string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def lits(items: tuple[str, ...] | list[str]) -> str:
    return "[" + ", ".join(lit(item) for item in items) + "]"


def strip(text: str) -> str:
    return f"trimBoth({text}, '{_WHITESPACE}')"


def unquote(text: str) -> str:
    """Langfuse JSON-quotes metadata strings: '"stop"' → 'stop' (like `coerce.unquote`)."""
    return (f"if(startsWith({text}, '\"') AND endsWith({text}, '\"') AND length({text}) >= 2 "
            f"AND isValidJSON({text}) AND JSONType({text}) = 'String', JSONExtractString({text}), {text})")


def dig(blob: Val, path: str, most: int) -> str:
    """(kind, text) tuple of the value at `path` (an Array(String) expression, 1..`most` steps)
    inside a JSON-valued attribute: a JSON string, or a kvlist rendered as JSON."""
    cases = []
    for depth in range(1, most + 1):
        args = ", ".join([blob.text, *(f"{path}[{i}]" for i in range(1, depth + 1))])
        json_type = f"toString(JSONType({args}))"
        value = (f"(toInt8(transform({json_type}, {_JSON_KINDS}, 0)), "
                 f"if({json_type} = 'String', JSONExtractString({args}), JSONExtractRaw({args})))")
        cases += [f"length({path}) = {depth}", value] if depth < most else [value]
    return f"multiIf({', '.join(cases)})" if most > 1 else cases[0]


def let(name: str, value: str, body: str) -> str:
    """Bind `name` to `value` inside `body` (a one-element arrayMap), so a long expression is
    written once instead of at every use."""
    return f"arrayMap({name} -> {body}, [{value}])[1]"


def as_text(v: Val) -> str:
    stripped = strip(v.text)
    return (f"multiIf({v.kind} IN ({STRING}, {BYTES}), nullIf({unquote(stripped)}, ''), "
            f"{v.kind} IN ({BOOL}, {INT}), {v.text}, "
            f"{v.kind} = {DOUBLE} AND {v.text} NOT IN ('NaN', 'Infinity', '-Infinity'), {v.text}, NULL)")


def _parsed_int(v: Val) -> str:
    return (f"multiIf({v.kind} = {INT}, toInt64OrNull({v.text}), "
            f"{v.kind} IN ({STRING}, {BYTES}), toInt64OrNull({strip(v.text)}), NULL)")


def _parsed_float(v: Val) -> str:
    return (f"multiIf({v.kind} IN ({INT}, {DOUBLE}), toFloat64OrNull({v.text}), "
            f"{v.kind} IN ({STRING}, {BYTES}), toFloat64OrNull({strip(v.text)}), NULL)")


def as_int(v: Val) -> str:
    """An integer parse wins over a float parse (as `parse_number`); negatives are None."""
    whole, real = _parsed_int(v), _parsed_float(v)
    return (f"if({whole} IS NOT NULL, if({whole} >= 0, toUInt64({whole}), NULL), "
            f"if(isFinite({real}) AND {real} >= 0 AND {real} <= {_MAX_UINT}, toUInt64({real}), NULL))")


def as_float(v: Val) -> str:
    real = _parsed_float(v)
    return f"if(isFinite({real}), {real}, NULL)"


def as_bool(v: Val) -> str:
    word = f"lowerUTF8({unquote(strip(v.text))})"
    return (f"multiIf({v.kind} = {BOOL}, {v.text} = 'true', {v.kind} IN ({INT}, {DOUBLE}), "
            f"toFloat64OrZero({v.text}) != 0 OR {v.text} = 'NaN', {v.kind} IN ({STRING}, {BYTES}), "
            f"multiIf({word} IN {lits(_TRUE)}, true, {word} IN {lits(_FALSE)}, false, NULL), NULL)")


def as_decimal(v: Val) -> str:
    """Decimal(38, 12), rounded half-even like `Decimal.quantize`; NULL outside [0, 1e26)."""
    source = f"if({v.kind} IN ({STRING}, {BYTES}), {unquote(strip(v.text))}, {v.text})"
    parsed = f"toDecimal128OrNull({source}, 18)"
    amount = f"toDecimal128(roundBankers({parsed}, 12), 12)"
    return (f"if({v.kind} IN ({STRING}, {BYTES}, {INT}, {DOUBLE}) AND {parsed} IS NOT NULL "
            f"AND {parsed} >= 0, {amount}, NULL)")


def as_str_list(v: Val) -> str:
    """Array(String), empty where the Python coercion gives None."""
    text = strip(v.text)
    items = (f"arrayFilter(x -> x != '', arrayMap(r -> multiIf(JSONType(r) = 'String', "
             f"ifNull(nullIf({unquote(strip('JSONExtractString(r)'))}, ''), ''), "
             f"JSONType(r) IN ('Int64', 'UInt64', 'Double', 'Bool'), r, ''), JSONExtractArrayRaw({text})))")
    single = f"if({unquote(text)} = '', [], [{unquote(text)}])"
    return (f"multiIf({v.kind} = {ARRAY}, {items}, {v.kind} IN ({STRING}, {BYTES}) AND startsWith({text}, '['), "
            f"if(isValidJSON({text}), {items}, []), {v.kind} IN ({STRING}, {BYTES}), {single}, [])")


def as_ns(v: Val) -> str:
    """Epoch ns of an ISO timestamp (maybe JSON-quoted) or of a number in s, ms, µs or ns."""
    scaled = "multiIf(" + ", ".join(f"n > {limit}, toInt64(n * {factor})" for limit, factor in _NS_SCALES)
    from_number = let("n", as_float(v), f"if(n > 0, {scaled}, toInt64(n * 1e9)), NULL)")
    moment = f"parseDateTime64BestEffortOrNull({unquote(strip(v.text))}, 6, 'UTC')"
    from_text = let("m", moment, "if(m IS NULL, NULL, toInt64(toUnixTimestamp64Micro(m)) * 1000)")
    return f"if({v.kind} IN ({STRING}, {BYTES}) AND {_parsed_float(v)} IS NULL, {from_text}, {from_number})"


def truthy(v: Val) -> str:
    """Python truthiness of the raw attribute value."""
    return (f"multiIf({v.kind} IN ({STRING}, {BYTES}), {v.text} != '', {v.kind} = {BOOL}, {v.text} = 'true', "
            f"{v.kind} IN ({INT}, {DOUBLE}), {v.text} NOT IN ('0', '0.0', '-0.0'), "
            f"{v.kind} = {ARRAY}, {v.text} != '[]', {v.kind} = {KVLIST}, {v.text} != '{{}}', false)")


def clip(text: str, max_chars: int) -> str:
    """Like `coerce.clip`: cut to `max_chars` code points with a visible marker."""
    size = f"lengthUTF8({text})"
    return (f"if({size} <= {max_chars}, {text}, concat(substringUTF8({text}, 1, {max_chars}), "
            f"'…[truncated ', toString({size} - {max_chars}), ' chars]'))")


# --- AnyValue → text, as the Python path renders it ------------------------------------------


def any_value_type(depth: int) -> str:
    """ClickHouse type of an AnyValue nested `depth` more levels (AnyValue is recursive; a table
    structure is not, so arrays and kvlists deeper than that are not read)."""
    kind = ("value Enum8('none' = 0, 'string_value' = 1, 'bool_value' = 2, 'int_value' = 3, "
            "'double_value' = 4, 'array_value' = 5, 'kvlist_value' = 6, 'bytes_value' = 7, "
            "'string_value_strindex' = 8)")
    scalars = "string_value String, bool_value Bool, int_value Int64, double_value Float64, bytes_value String"
    if depth == 0:
        return f"Tuple({scalars}, {kind})"
    inner = any_value_type(depth - 1)
    nested = (f"array_value Tuple(values Array({inner})), "
              f"kvlist_value Tuple(values Array(Tuple(key String, value {inner})))")
    return f"Tuple({scalars}, {nested}, {kind})"


def py_float(x: str) -> str:
    """Python's repr of a Float64. ClickHouse prints the same shortest digits but lays them out
    differently: fixed for 1e-6..1e21 and `1.5e22` beyond, where Python is fixed for 1e-4..1e16
    and `1.5e+22` beyond (with two exponent digits at least); each band is rebuilt here."""
    text = f"toString(abs({x}))"
    big = f"trimRight({text}, '0')"  # integral digits of 1e16..1e21
    big_sci = (f"concat(substring({big}, 1, 1), if(length({big}) > 1, concat('.', substring({big}, 2)), ''), "
               f"'e+', toString(length({text}) - 1))")
    small = f"trimLeft(substring({text}, 3), '0')"  # significant digits of 1e-6..1e-4
    small_exp = f"length(substring({text}, 3)) - length({small}) + 1"
    small_sci = (f"concat(substring({small}, 1, 1), if(length({small}) > 1, concat('.', substring({small}, 2)), ''), "
                 f"'e-0', toString({small_exp}))")
    native_sci = f"replaceRegexpOne(replaceRegexpOne({text}, 'e([0-9])', 'e+\\\\1'), 'e([+-])([0-9])$', 'e\\\\10\\\\2')"
    finite = (f"concat(if({x} < 0, '-', ''), multiIf(position({text}, 'e') > 0, {native_sci}, "
              f"abs({x}) >= 1e16, {big_sci}, abs({x}) < 1e-4, {small_sci}, "
              f"position({text}, '.') = 0, concat({text}, '.0'), {text}))")
    return (f"multiIf(isNaN({x}), 'NaN', isInfinite({x}), if({x} > 0, 'Infinity', '-Infinity'), "
            f"{x} = 0, if(toString({x}) = '-0', '-0.0', '0.0'), {finite})")


def json_string(text: str) -> str:
    """JSON string literal as Python's json.dumps(ensure_ascii=False) writes it."""
    quoted = f"replaceAll(toJSONString({text}), '\\\\/', '/')"
    return f"replaceAll(replaceAll({quoted}, '\\\\u2028', '\u2028'), '\\\\u2029', '\u2029')"


def render_text(x: str, depth: int) -> str:
    """Text of an attribute value as the `attributes` map holds it: strings as they are (bytes
    as base64), numbers as Python's repr, arrays and kvlists as compact JSON."""
    return _render(x, depth, f"{x}.string_value", f"base64Encode({x}.bytes_value)", py_float(f"{x}.double_value"))


def _render_nested(x: str, depth: int) -> str:
    """JSON of a value inside an array or kvlist. Its doubles use the short form (ClickHouse's
    digits, '.0' on integral values): exact within 1e-4..1e16, the usual range, and small."""
    number = f"{x}.double_value"
    short = (f"multiIf(isFinite({number}), concat(toString({number}), if(match(toString({number}), '[.e]'), "
             f"'', '.0')), isNaN({number}), 'NaN', {number} > 0, 'Infinity', '-Infinity')")
    raw_bytes = f"concat('\"', base64Encode({x}.bytes_value), '\"')"
    return _render(x, depth, json_string(f"{x}.string_value"), raw_bytes, short)


def _render(x: str, depth: int, string: str, raw_bytes: str, number: str) -> str:
    kind = f"toInt8({x}.value)"
    cases = [f"{kind} = {STRING}", string, f"{kind} = {INT}", f"toString({x}.int_value)",
             f"{kind} = {DOUBLE}", number, f"{kind} = {BOOL}", f"if({x}.bool_value, 'true', 'false')",
             f"{kind} = {BYTES}", raw_bytes]
    if depth > 0:
        item, pair = f"v{depth}", f"kv{depth}"
        array = (f"concat('[', arrayStringConcat(arrayMap({item} -> {_render_nested(item, depth - 1)}, "
                 f"{x}.array_value.values), ','), ']')")
        pairs = (f"arrayMap({pair} -> concat({json_string(f'{pair}.key')}, ':', "
                 f"{_render_nested(f'{pair}.value', depth - 1)}), {x}.kvlist_value.values)")
        kvlist = f"concat('{{', arrayStringConcat({pairs}, ','), '}}')"
        cases += [f"{kind} = {ARRAY}", array, f"{kind} = {KVLIST}", kvlist]
    return "multiIf(" + ", ".join(cases) + ", 'null')"
