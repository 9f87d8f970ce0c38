"""How reads treat shadow calls (`schemas.shadow_fields`): the one rule, over calls and state rows.

A shadow call costs money but answers no user, so by default (`split`) its spend and billed tokens
count while its request, error, latency, TTFT, cache-hit, trace and user figures do not;
`exclude`, `include` and `only` filter the calls instead, every figure alike.
"""

from __future__ import annotations

from schemas.shadow_fields import SHADOW_EXCLUDE, SHADOW_ONLY, SHADOW_SPLIT

# A call is a shadow call when it names its primary (a twin that names it counts).
SHADOW_FLAG = "max(s.shadow_of != '') AS shadow"
# State-row columns a shadow call still adds to under `split`: money, and the tokens it was billed for.
SPEND_STATES = frozenset({
    "cost_total", "unpriced", "cache_read_savings",
    "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
})
# A state column's value with nothing in it, as a plain (non-aggregate) expression.
_EMPTY = {
    "traces": "arrayReduce('uniqState', emptyArrayString())",
    "users": "arrayReduce('uniqState', emptyArrayString())",
    "latency": "arrayReduce('quantilesTDigestState(0.5, 0.95, 0.99)', emptyArrayFloat64())",
    "ttft": "arrayReduce('quantilesTDigestState(0.5, 0.95, 0.99)', emptyArrayFloat64())",
}


def shadow_condition(mode: str, flag: str) -> str:
    """SQL over a call's shadow `flag` that keeps the calls `mode` reads ('' for all of them)."""
    if mode == SHADOW_EXCLUDE:
        return f"NOT {flag}"
    return flag if mode == SHADOW_ONLY else ""


def split_state_rows(rows: str, mode: str, states: list[str]) -> str:
    """State rows `rows` (bucket, key, shadow, `states`) as the metric formulas read them under `mode`."""
    condition = shadow_condition(mode, "r0.shadow")
    where = f" WHERE {condition}" if condition else ""
    if mode != SHADOW_SPLIT:
        picked = ", ".join(f"r0.{name} AS {name}" for name in states)
    else:
        picked = ", ".join(f"r0.{name} AS {name}" if name in SPEND_STATES
                           else f"if(r0.shadow, {_EMPTY.get(name, '0')}, r0.{name}) AS {name}" for name in states)
    return f"SELECT r0.bucket AS bucket, r0.key AS key, {picked} FROM ({rows}) AS r0{where}"

