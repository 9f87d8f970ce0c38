"""The filters every read takes (model, provider, service, environment, user, session, tag, signal), as SQL.

One table names the column behind each filter, so the metric series, the summary, the trace list
and the quality reads filter the same way; values are always bound as `{f_<name>:String}`. The
`signal` filter keeps the calls (or spans) that carry one failure signal (`SIGNALS`).
"""

from __future__ import annotations

from collections.abc import Mapping

# API group/filter name → call and span column. The first four are rollup dimensions; the rest need raw calls.
DIMENSIONS = {
    "model": "request_model", "provider": "provider", "service": "service_name", "environment": "environment",
    "user": "user_id", "session": "session_id", "tag": "tag",
}
TAGS_COLUMN = "tags"  # a span's tags; the `tag` filter matches one of them
# `signal=` value → the call and span column that carries it (migration 0013).
SIGNALS = {"parse_failure": "parse_failure", "refusal": "refusal", "truncated": "truncated", "tool_error": "tool_error"}
SIGNAL = "signal"
FILTER_NAMES = (*DIMENSIONS, SIGNAL)


def signal_condition(alias: str, parameter: str) -> str:
    """Rows `alias` that carry the signal named by the bound `parameter` (an unknown name: none)."""
    cases = ", ".join(f"{{{parameter}:String}} = '{name}', {alias}.{column}" for name, column in SIGNALS.items())
    return f"multiIf({cases}, false)"


def filter_conditions(filters: Mapping[str, str], alias: str) -> list[str]:
    """One SQL condition per filter over rows `alias` (calls or spans): equal column, or a tag held."""
    return [f"has({alias}.{TAGS_COLUMN}, {{f_{name}:String}})" if name == "tag"
            else signal_condition(alias, f"f_{name}") if name == SIGNAL
            else f"{alias}.{DIMENSIONS[name]} = {{f_{name}:String}}" for name in filters]


def filter_params(filters: Mapping[str, str]) -> dict[str, str]:
    """The bound values of `filter_conditions`."""
    return {f"f_{name}": value for name, value in filters.items()}
