"""Two cohorts of live LLM calls, chosen by any attribute: what `GET /api/v1/compare` reads.

A cohort is the calls whose attribute holds one value: a column llmpulse keeps (`model`,
`response_model`, `provider`, `service`, `environment`, `user`, `session`), a tag, or any span or
resource attribute key (`llmpulse.prompt.version`, `service.version`, ...), the span's own value
first. The key and both values are bound as parameters; only the column names of `COLUMNS` reach
the SQL text.

One scan of the window answers both cohorts: counts, sums and t-digest percentiles over every call
span, and a bounded reservoir sample per metric (`groupArraySample`) for the rank tests, so a week
of 10M spans costs one pass of a few columns. Redelivered spans collapse under FINAL. Unlike the
summary, twins of one call (the same call traced by two instrumentations, `call_merge`) are not
merged here: that merge groups every call of the window by its identity, ~10 s for a week of 10M
spans on two cores, against the 2 s a comparison may take; the answer says so (`COUNTING`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from schemas.clickhouse.filters import TAGS_COLUMN, filter_conditions, filter_params
from schemas.clickhouse.quality import EVALUATIONS_TABLE, SOURCE_EXPERIMENT, SOURCE_HUMAN, span_verdicts_sql
from schemas.clickhouse.queries import time_range
from schemas.clickhouse.store import Store

# Attribute names that mean a span column rather than an attribute key (as the filters spell them).
COLUMNS = {
    "model": "request_model", "request_model": "request_model", "response_model": "response_model",
    "provider": "provider", "service": "service_name", "environment": "environment", "user": "user_id",
    "session": "session_id",
}
TAG = "tag"
# Live traffic only: shadow calls (`llmpulse.shadow_of`, migration 0010: a candidate's answer the
# user never saw) are kept out; the Shadow report compares them.
LIVE_CALLS = "s.shadow_of = ''"
SAMPLE_SIZE = 20_000  # values per cohort and metric for the rank tests: p-values settle long before
SAMPLE_SEED = 20261208  # a fixed reservoir seed: the same rows give (nearly) the same sample
COUNTING = ("call spans in the window, a redelivered span once; a call traced by two instrumentations at "
            "once counts twice here (the summary merges those copies)")
_SOURCES_OF_FEEDBACK = ("app", SOURCE_HUMAN)


@dataclass(frozen=True)
class Cohorts:
    """What selects the two cohorts: the attribute, its two values, and the filters both share."""

    project: str
    start: datetime
    end: datetime
    attribute: str
    a: str
    b: str
    filters: Mapping[str, str]

    @property
    def kind(self) -> str:
        return "column" if self.attribute in COLUMNS else TAG if self.attribute == TAG else "attribute"

    def params(self) -> dict[str, Any]:
        return {"project": self.project, "start": self.start, "end": self.end, "key": self.attribute,
                "a": self.a, "b": self.b, **filter_params(self.filters)}


def cohort_value(cohorts: Cohorts) -> str:
    """The attribute's value on a span `s`: a column, or the span's attribute, else its resource's."""
    if cohorts.kind == "column":
        return f"s.{COLUMNS[cohorts.attribute]}"
    return ("if(mapContains(s.attributes, {key:String}), s.attributes[{key:String}], "
            "s.resource_attributes[{key:String}])")


def cohort_label(cohorts: Cohorts) -> str:
    """'a' or 'b' for a span of either cohort; a call tagged with both values is in neither."""
    if cohorts.kind == TAG:
        has_a, has_b = (f"has(s.{TAGS_COLUMN}, {{{v}:String}})" for v in ("a", "b"))
        return f"multiIf({has_a} AND NOT {has_b}, 'a', {has_b} AND NOT {has_a}, 'b', '')"
    value = cohort_value(cohorts)
    return f"multiIf({value} = {{a:String}}, 'a', {value} = {{b:String}}, 'b', '')"


def _call_conditions(cohorts: Cohorts) -> str:
    where = ["s.project_id = {project:String}", "s.is_call", time_range("s"), LIVE_CALLS,
             *filter_conditions(cohorts.filters, "s")]
    return " AND ".join(where)


_AGGREGATES = f"""
    count() AS requests,
    countIf(s.status_code = 'error') AS errors,
    countIf(s.cost_total IS NOT NULL) AS priced,
    sum(ifNull(s.cost_total, toDecimal128(0, 12))) AS cost_total,
    quantilesTDigest(0.5, 0.95)(s.duration_ms) AS latency,
    quantilesTDigestIf(0.5, 0.95)(assumeNotNull(s.ttft_ms), s.ttft_ms IS NOT NULL) AS ttft,
    countIf(s.ttft_ms IS NOT NULL) AS streamed,
    sum(s.output_tokens) AS output_tokens,
    groupArraySample({SAMPLE_SIZE}, {SAMPLE_SEED})(s.duration_ms) AS latency_sample,
    groupArraySampleIf({SAMPLE_SIZE}, {SAMPLE_SEED})(assumeNotNull(s.ttft_ms), s.ttft_ms IS NOT NULL) AS ttft_sample,
    groupArraySample({SAMPLE_SIZE}, {SAMPLE_SEED})(toFloat64(s.output_tokens)) AS output_tokens_sample,
    groupArraySampleIf({SAMPLE_SIZE}, {SAMPLE_SEED})(toFloat64(assumeNotNull(s.cost_total)),
        s.cost_total IS NOT NULL) AS cost_sample
"""


def cohort_calls(store: Store, cohorts: Cohorts) -> dict[str, dict[str, Any]]:
    """Per cohort ('a', 'b'): call counts, cost, percentiles and the metric samples; a cohort
    without calls is absent."""
    label = cohort_label(cohorts)
    sql = (f"SELECT cohort, {_AGGREGATES} FROM (SELECT *, {label} AS cohort FROM {{db}}.spans AS s FINAL "
           f"WHERE {_call_conditions(cohorts)}) AS s WHERE cohort != '' GROUP BY cohort")
    return {row.pop("cohort"): row for row in store.query_dicts(sql, cohorts.params(), "cohort_calls")}


def _scored_spans(cohorts: Cohorts) -> str:
    """The cohorts' call spans that have a production evaluation in the window, with their cohort."""
    evaluated = (f"SELECT e.trace_id, e.span_id FROM {{db}}.{EVALUATIONS_TABLE} AS e "
                 f"WHERE e.project_id = {{project:String}} AND e.source != '{SOURCE_EXPERIMENT}' "
                 "AND e.span_time >= {start:DateTime64(6, 'UTC')} AND e.span_time < {end:DateTime64(6, 'UTC')}")
    return (f"SELECT s.trace_id AS trace_id, s.span_id AS span_id, any({cohort_label(cohorts)}) AS cohort "
            f"FROM {{db}}.spans AS s WHERE {_call_conditions(cohorts)} AND (s.trace_id, s.span_id) IN ({evaluated}) "
            "GROUP BY s.trace_id, s.span_id HAVING cohort != ''")


VERDICTS = ""  # the name under which `cohort_scores` answers the hallucination verdicts


def cohort_scores(store: Store, cohorts: Cohorts) -> dict[str, dict[str, dict[str, Any]]]:
    """Per cohort and score name: the numeric scores apps and people gave (user feedback, app
    scores): how many, their mean, and a sample for the rank test; under `VERDICTS`, the scored
    calls (`count`) and the mean of their hallucination verdicts (one a call, `quality`). One
    query, so the cohorts' evaluated calls are looked up among the window's spans once."""
    feedback = (f"SELECT e.trace_id AS trace_id, e.span_id AS span_id, e.name AS name, assumeNotNull(e.score) AS score "
                f"FROM {{db}}.{EVALUATIONS_TABLE} AS e FINAL "
                "WHERE e.project_id = {project:String} AND e.source IN {sources:Array(String)} AND e.score IS NOT NULL "
                "AND e.span_time >= {start:DateTime64(6, 'UTC')} AND e.span_time < {end:DateTime64(6, 'UTC')}")
    verdicts = (f"SELECT v.trace_id AS trace_id, v.span_id AS span_id, '{VERDICTS}' AS name, "
                f"toFloat64(v.hallucinated) AS score FROM ({span_verdicts_sql()}) AS v")
    sql = (f"SELECT l.cohort AS cohort, x.name AS name, count() AS count, avg(x.score) AS mean, "
           f"groupArraySample({SAMPLE_SIZE}, {SAMPLE_SEED})(x.score) AS sample "
           f"FROM ({verdicts} UNION ALL {feedback}) AS x INNER JOIN ({_scored_spans(cohorts)}) AS l "
           "ON x.trace_id = l.trace_id AND x.span_id = l.span_id GROUP BY cohort, name ORDER BY cohort, name")
    params = {**cohorts.params(), "sources": list(_SOURCES_OF_FEEDBACK)}
    found: dict[str, dict[str, dict[str, Any]]] = {}
    for row in store.query_dicts(sql, params, "cohort_scores"):
        found.setdefault(row.pop("cohort"), {})[row.pop("name")] = row
    return found
