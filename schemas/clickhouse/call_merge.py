"""Which spans are copies of one LLM call: the merge key that every call total groups by.

A call traced by two instrumentations at once (an SDK's own tracing plus an instrumentation
library, or a framework's LLM span around a client library's) leaves two call spans. A successful
call's copies share its response id, so the stored `call_key` (response id, else span id) already
makes them one. A failed call has no response id: its copies are recognised here, at read time,
as error call spans of one trace and one requested model of which one is the parent of the other,
or whose times overlap and which two instrumentation scopes made. Two failed attempts one after
the other (an application's own retry) do not overlap, and parallel calls of one instrumentation
that fail together (a fan-out hitting a rate limit) share a scope: both stay separate calls.

The rule needs the other copies, so it cannot be stored at ingest (either copy may arrive first,
in another request); it runs over the failed spans without a response id only, which are few,
while every other span keeps its stored key at no extra cost.
"""

from __future__ import annotations

from collections.abc import Callable


def _unkeyed_failure(alias: str) -> str:
    """A call span with no response id (its call key is its own span id) whose call failed."""
    return f"({alias}.status_code = 'error' AND {alias}.call_key = {alias}.span_id)"


UNKEYED_FAILURE = _unkeyed_failure("s")


def dirty_key(alias: str) -> str:
    """cityHash64 of a call span's (trace, key), to find the minutes its copies lie in
    (`metrics._DIRTY_MINUTES_SQL`): a failed span without a response id marks the minutes of
    every such span of its trace, since which of them are one call is decided on read."""
    return f"cityHash64({alias}.trace_id, if({_unkeyed_failure(alias)}, '', {alias}.call_key))"


# A failed span as the copy rule reads it; ordered by start, then span id (the tie-break).
_FIELDS = ("start_time", "span_id", "request_model", "parent_span_id", "scope_name", "end_time")


def _copy_of(earlier: str, span: str) -> str:
    """Is `span` a copy of the call the `earlier` failed span (by start) of its trace and model
    began: a redelivery of it, its parent or child, or overlapping it from another instrumentation
    scope? One scope's overlapping spans are parallel calls (a fan-out hitting a rate limit fails
    them all at once), not copies. Each is a tuple of `_FIELDS`, or `s` for the row itself."""
    e, x = _accessor(earlier), _accessor(span)
    return (f"({e('span_id')} = {x('span_id')} OR {e('span_id')} = {x('parent_span_id')} "
            f"OR {e('parent_span_id')} = {x('span_id')} "
            f"OR ({e('scope_name')} != {x('scope_name')} AND {x('start_time')} < {e('end_time')}))")


def _accessor(alias: str) -> Callable[[str], str]:
    if alias == "s":
        return lambda name: f"s.{name}"
    return lambda name: f"{alias}.{_FIELDS.index(name) + 1}"


_ROW = "(" + ", ".join(f"s.{name}" for name in _FIELDS) + ")"
_EARLIER = ("PARTITION BY s.trace_id, s.request_model ORDER BY s.start_time, s.span_id "
            "ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING")
_STARTS_CALL = f"NOT arrayExists(e -> {_copy_of('e', 's')}, groupArray({_ROW}) OVER ({_EARLIER}))"
# The failed calls of one trace, from its spans grouped by trace (the trace list): the same rule
# over the trace's failed spans sorted as the window above orders them.
_FAILED = f"arraySort(groupArrayIf({_ROW}, s.is_call AND {UNKEYED_FAILURE}))"
FAILED_CALLS_IN_TRACE = (
    f"arrayCount((x, i) -> NOT arrayExists((e, j) -> j < i AND e.3 = x.3 AND {_copy_of('e', 'x')}, "
    f"{_FAILED}, arrayEnumerate({_FAILED})), {_FAILED}, arrayEnumerate({_FAILED}))"
)
# A trace's LLM and embedding calls, counted from its spans: distinct keys, failed copies merged.
TRACE_CALLS = f"uniqExactIf(s.call_key, s.is_call AND NOT {UNKEYED_FAILURE}) + {FAILED_CALLS_IN_TRACE}"
# The n-th call of a trace and model, spelled so that it cannot equal a response or span id. A
# copy joins the call begun last before it: the count is exact, but where calls of one trace and
# model interleave, a copy may lend its facts to its neighbour's call rather than its own.
_FAILED_KEY = ("concat('failed', char(0), s.request_model, char(0), toString(sum(s.starts_call) OVER ("
               "PARTITION BY s.trace_id, s.request_model ORDER BY s.start_time, s.span_id ROWS UNBOUNDED PRECEDING)))")


def merged_call_spans(columns: tuple[str, ...], where: list[str]) -> str:
    """Call spans matching `where` (over `s.`), each with its `merge_key`: the stored call key, or
    for a failed span without a response id the key of the call it is a copy of."""
    picked = ", ".join(f"s.{c} AS {c}" for c in columns)
    keyed = (f"SELECT {picked}, s.call_key AS merge_key FROM {{db}}.spans AS s "
             f"WHERE {' AND '.join([*where, f'NOT {UNKEYED_FAILURE}'])}")
    failed = (f"SELECT {picked}, {_STARTS_CALL} AS starts_call FROM {{db}}.spans AS s "
              f"WHERE {' AND '.join([*where, UNKEYED_FAILURE])}")
    numbered = f"SELECT {picked}, {_FAILED_KEY} AS merge_key FROM ({failed}) AS s"
    return f"{keyed} UNION ALL {numbered}"
