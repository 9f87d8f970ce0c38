"""The scored span's facts, copied onto each evaluation row when it is written.

An A/B comparison by any attribute (`schemas.clickhouse.cohorts`) needs each score's cohort: the
attribute's value on the scored span. Looking the scored spans up read every call of the window,
their attribute maps and ids (the few scored spans lie in every granule): 1.5 s of a comparison
over 10M spans. So an evaluation row carries a copy of what a cohort, a filter or the live-call
test may ask of its span (`FACT_COLUMNS`, named as on `spans`, so the same SQL reads either), and
`span_facts` says the copy is there. Rows written before migration 0012, or before their span
arrived, have none; the comparison looks those few up among the spans.

An attribute value longer than `MAX_VALUE_CHARS` is not copied: a cohort is chosen by a short
value (a version, a release, a flag), never by a prompt.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from schemas.clickhouse.store import Store

FACTS_FLAG = "span_facts"
FACT_COLUMNS = ("is_call", "provider", "response_model", "service_name", "environment", "user_id", "session_id",
                "shadow_of", "tags", "attributes", "resource_attributes")
COPIED_COLUMNS = (FACTS_FLAG, *FACT_COLUMNS)
# The filters (`schemas.clickhouse.filters`) an evaluation row's copy answers: their columns are
# copied (the model was on the row already).
COPIED_FILTERS = frozenset({"model", "provider", "service", "environment", "user", "session", "tag"})
MAX_VALUE_CHARS = 1024
_MAPS = ("attributes", "resource_attributes")


def _select_facts() -> str:
    short = {m: f"mapFilter((k, v) -> length(v) <= {MAX_VALUE_CHARS}, {m}) AS {m}" for m in _MAPS}
    return ", ".join(short.get(column, column) for column in FACT_COLUMNS)


def with_span_facts(store: Store, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """`rows` (evaluation rows, any projects) with their spans' facts; a row whose span is not
    stored gets `span_facts` false and empty facts."""
    by_project: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_project[row["project_id"]].append(row)
    facts: dict[tuple[str, str, str], dict[str, Any]] = {}
    for project, of_project in by_project.items():
        facts.update(_facts_of(store, project, of_project))
    return [{**row, **facts.get((row["project_id"], row["trace_id"], row["span_id"]), _NO_FACTS)} for row in rows]


def _facts_of(store: Store, project: str, rows: Sequence[dict[str, Any]]) -> dict[tuple[str, str, str], dict]:
    """One read of the rows' spans, through the trace id's index."""
    sql = (f"SELECT trace_id, span_id, {_select_facts()} FROM {{db}}.spans FINAL "
           "WHERE project_id = {project:String} AND trace_id IN {traces:Array(String)} "
           "AND span_id IN {spans:Array(String)}")
    params = {"project": project, "traces": sorted({r["trace_id"] for r in rows}),
              "spans": sorted({r["span_id"] for r in rows})}
    found = store.query_dicts(sql, params, "evaluations_span_facts")
    return {(project, f.pop("trace_id"), f.pop("span_id")): {**f, FACTS_FLAG: True} for f in found}


_NO_FACTS: dict[str, Any] = {FACTS_FLAG: False, "is_call": False, "tags": [], "attributes": {},
                             "resource_attributes": {},
                             **{c: "" for c in FACT_COLUMNS if c not in ("is_call", "tags", *_MAPS)}}


def facts_sql(alias: str) -> str:
    """The copy of `FACT_COLUMNS` from spans `alias` in an INSERT ... SELECT (`span_facts` true
    where the span was found: `found` is the SQL that says so)."""
    maps = {m: f"mapFilter((k, v) -> length(v) <= {MAX_VALUE_CHARS}, {alias}.{m})" for m in _MAPS}
    return ", ".join(maps.get(column, f"{alias}.{column}") for column in FACT_COLUMNS)
