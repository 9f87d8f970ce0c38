"""The convention tables as data inside the normalizing SELECT (see `schemas.sqlnormalize`).

Every source of every canonical field becomes one entry of constant arrays (attribute key,
JSON path, guards); each span looks them all up at once, and one lambda per coercion (text,
int, float, bool, decimal, list, timestamp) coerces the candidates of all the fields that share
it. A field is then "the first non-null candidate in its slice", `_Reader.first` in SQL. The
query stays the same size however many sources the tables list, which matters: ClickHouse
analyses a view's query at every INSERT, at roughly 0.1 ms per expression node.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from schemas import conventions as cv
from schemas import fields as f
from schemas.sqlcoerce import (
    Val,
    as_bool,
    as_decimal,
    as_float,
    as_int,
    as_ns,
    as_str_list,
    as_text,
    dig,
    let,
    lit,
    lits,
)

RESOURCE = "resource:"  # pseudo-field prefix: a source read from the resource attributes
Coerce = Callable[[Val], str]


@dataclass(frozen=True, slots=True)
class _Family:
    """Fields whose sources share one coercion: one lambda over all of their candidates."""

    name: str
    coerce: Coerce
    fields: tuple[str, ...]


_FAMILIES = (
    _Family("text", as_text, (
        cv.MODEL_NAME, f.REQUEST_MODEL, f.RESPONSE_MODEL, f.PROVIDER, f.OPERATION, f.RESPONSE_ID,
        f.SYSTEM_FINGERPRINT, f.USER_ID, f.SESSION_ID, f.ENVIRONMENT, f.SERVICE_NAME, f.ERROR_TYPE,
        f.STATUS_MESSAGE, RESOURCE + f.SERVICE_NAME, RESOURCE + f.ENVIRONMENT,
    )),
    _Family("int", as_int, (
        f.INPUT_TOKENS, f.OUTPUT_TOKENS, f.CACHE_READ_TOKENS, f.CACHE_WRITE_TOKENS, f.REASONING_TOKENS,
        f.TOTAL_TOKENS,
    )),
    _Family("float", as_float, (f.TTFT_MS,)),
    _Family("bool", as_bool, (cv.STREAM, f.CACHE_HIT)),
    _Family("decimal", as_decimal, (f.COST_REPORTED,)),
    _Family("list", as_str_list, (f.FINISH_REASONS, f.TAGS)),
    _Family("ns", as_ns, (cv.FIRST_TOKEN_TIME,)),
)


def _sources(field: str) -> tuple[cv.Source, ...]:
    if field.startswith(RESOURCE):
        return tuple(cv.Source(key) for key in cv.RESOURCE_SOURCES[field.removeprefix(RESOURCE)])
    return cv.FIELD_SOURCES[field]


@dataclass(frozen=True, slots=True)
class _Candidates:
    """Every source of every family, in table order, as parallel constant lists."""

    keys: list[str]
    paths: list[tuple[str, ...]]
    llm_only: list[int]
    resource: list[int]
    family_slices: dict[str, tuple[int, int]]  # family → (1-based start, count)
    field_slices: dict[str, tuple[int, int]]  # field → (1-based start within its family, count)


def _collect_candidates() -> _Candidates:
    found = _Candidates([], [], [], [], {}, {})
    for family in _FAMILIES:
        start = len(found.keys) + 1
        for field in family.fields:
            sources = _sources(field)
            found.field_slices[field] = (len(found.keys) + 2 - start, len(sources))
            for source in sources:
                found.keys.append(source.key)
                found.paths.append(source.path)
                found.llm_only.append(int(source.llm_only))
                found.resource.append(int(field.startswith(RESOURCE)))
        found.family_slices[family.name] = (start, len(found.keys) + 1 - start)
    return found


_CANDIDATES = _collect_candidates()
_FAMILY_OF = {field: family for family in _FAMILIES for field in family.fields}


def attr(key: str) -> Val:
    index = f"indexOf(a_keys, {lit(key)})"
    return Val(f"a_kinds[{index}]", f"a_texts[{index}]")


def candidate_values() -> str:
    """(kind, text) of every candidate source: looked up by key, dug into JSON where it has a
    path, blanked (kind 0) where an `llm_only` source sits on a non-LLM span."""
    c = _CANDIDATES
    paths = "[" + ", ".join(lits(list(p)) if p else "[]" for p in c.paths) + "]"  # one literal
    most = max(len(p) for p in c.paths)
    index = "if(res, indexOf(r_keys, k), indexOf(a_keys, k))"
    base = Val("if(res, r_kinds[i], a_kinds[i])", "if(res, r_texts[i], a_texts[i])")
    value = f"if(empty(p), ({base.kind}, {base.text}), {dig(base, 'p', most)})"
    guarded = f"if(llm AND span_type != '{f.TYPE_LLM}', (toInt8(0), ''), {value})"
    body = f"arrayMap(i -> {guarded}, [{index}])[1]"
    return (f"arrayMap((k, p, llm, res) -> {body}, {lits(c.keys)}, {paths}, "
            f"{ints(c.llm_only)}, {ints(c.resource)})")


def ints(values: list[int]) -> str:
    return "[" + ", ".join(str(v) for v in values) + "]"


def family_columns() -> list[tuple[str, str]]:
    """One array per family: each candidate coerced (NULL where Python's coercion gives None)."""
    columns = []
    for family in _FAMILIES:
        start, count = _CANDIDATES.family_slices[family.name]
        sources = [s for field in family.fields for s in _sources(field)]
        value = family.coerce(Val("c.1", "c.2"))
        if any(s.zero_is_null for s in sources):
            zeros = ints([int(s.zero_is_null) for s in sources])
            value = f"arrayMap((c, z) -> {let('d', value, 'if(z AND d = 0, NULL, d)')}, n_family, {zeros})"
        elif any(s.scale != 1.0 for s in sources):
            scales = "[" + ", ".join(repr(float(s.scale)) for s in sources) + "]"
            value = f"arrayMap((c, s) -> ({value}) * s, n_family, {scales})"
        else:
            value = f"arrayMap(c -> {value}, n_family)"
        columns.append((f"n_{family.name}", value.replace("n_family", f"arraySlice(n_candidates, {start}, {count})")))
    return columns


def field_slice(field: str) -> str:
    start, count = _CANDIDATES.field_slices[field]
    return f"arraySlice(n_{_FAMILY_OF[field].name}, {start}, {count})"


def first_value(field: str) -> str:
    """First non-null source of `field` (NULL when none): `_Reader.first` over the table."""
    if _FAMILY_OF[field].coerce is as_str_list:
        return f"arrayFirst(x -> notEmpty(x), {field_slice(field)})"
    return f"arrayFirst(x -> x IS NOT NULL, {field_slice(field)})"


def first_text(field: str) -> str:
    return f"ifNull({first_value(field)}, '')"
