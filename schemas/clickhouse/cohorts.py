"""Two cohorts of live LLM calls, chosen by any attribute: what `GET /api/v1/compare` reads.

A cohort is the calls whose attribute holds one value: a column llmpulse keeps (`model`,
`response_model`, `provider`, `service`, `environment`, `user`, `session`), a tag, or any span or
resource attribute key (`llmpulse.prompt.version`, `service.version`, ...), the span's own value
first. The key and both values are bound as parameters; only the column names of `COLUMNS` reach
the SQL text.

One scan of the window answers both cohorts' calls: counts and sums over every call span, and a
bounded reservoir sample per metric (`groupArraySample`) for the rank tests and the percentiles. A
second, narrow read gives their scores: an evaluation row carries a copy of its span's facts
(`schemas.clickhouse.span_facts`), so each score's cohort is read on the score, where a join of
every call to the scores had cost the scan 2.6 s at 10M spans; the few rows without a copy are
looked up among the calls. Model cohorts need no copy: an evaluation carries its span's requested
model, and their scores leave out those of spans that are not live calls (a granule-skipping lookup
of the few such spans). Redelivered spans collapse under FINAL. Unlike the summary, twins of one
call (the same call traced by two instrumentations, `call_merge`) are not merged here: that merge
groups every call of the window by its identity, ~10 s for a week of 10M spans on two cores, against
the 2 s a comparison may take; the answer says so (`COUNTING`). For the keys a project declares,
`schemas.clickhouse.cohort_rollup` reads the same aggregates from per-hour rows instead of the scan.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from schemas.clickhouse.filters import TAGS_COLUMN, filter_conditions, filter_params
from schemas.clickhouse.quality import EVALUATIONS_TABLE, SOURCE_HUMAN, span_verdicts_sql
from schemas.clickhouse.queries import time_range
from schemas.clickhouse.span_facts import FACTS_FLAG
from schemas.clickhouse.store import Store
from schemas.experiment_fields import EXPERIMENT_ENVIRONMENT

# Attribute names that mean a span column rather than an attribute key (as the filters spell them).
COLUMNS = {
    "model": "request_model", "request_model": "request_model", "response_model": "response_model",
    "provider": "provider", "service": "service_name", "environment": "environment", "user": "user_id",
    "session": "session_id",
}
TAG = "tag"
# Live traffic only, the one place that says what a live call is: the calls of experiments
# (`evals.runner`, environment "experiment") are not the app's, and shadow calls
# (`llmpulse.shadow_of`, migration 0010: a candidate's answer the user never saw) are compared by
# the Shadow report instead.
LIVE_CALLS = "s.environment != {experiment_environment:String}"
# Shadow calls are left out through the cohort label (no cohort), not in the WHERE: a condition on
# `shadow_of` there cost attribute cohorts 4 s -> 9.7 s at 10M spans (bench_cohorts.py).
SHADOW_CALL = "s.shadow_of != ''"
ATTRIBUTE_MAPS = ("attributes", "resource_attributes")  # a span's own first
MODEL_COLUMN = "request_model"  # the one cohort column an evaluation row carries itself
# Values per cohort and metric for the rank tests (p-values settle long before) and the percentiles
# shown: a cohort's p50/p95 are its sample's (all its values when it has fewer), within 0.3
# percentile points of the whole cohort's at 95% confidence. A t-digest over every call, as the
# summary keeps, cost the scan 10% more at 10M spans (bench_cohorts.py).
SAMPLE_SIZE = 20_000
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
    maps: tuple[str, ...] = ATTRIBUTE_MAPS  # those that may hold an attribute key (`holding_maps`)

    @property
    def kind(self) -> str:
        return "column" if self.attribute in COLUMNS else TAG if self.attribute == TAG else "attribute"

    def params(self) -> dict[str, Any]:
        return {"project": self.project, "start": self.start, "end": self.end, "key": self.attribute,
                "a": self.a, "b": self.b, "experiment_environment": EXPERIMENT_ENVIRONMENT,
                "sources": list(_SOURCES_OF_FEEDBACK), **filter_params(self.filters)}

    @property
    def by_model_alone(self) -> bool:
        """Cohorts of requested models and no filter: their scores need no span lookup."""
        return COLUMNS.get(self.attribute) == MODEL_COLUMN and not self.filters


def cohort_value(cohorts: Cohorts) -> str:
    """The attribute's value on a span `s`: a column, or the span's attribute, else its resource's
    (of the maps in `cohorts.maps`; '' when the key is in neither)."""
    if cohorts.kind == "column":
        return f"s.{COLUMNS[cohorts.attribute]}"
    if len(cohorts.maps) == 1:
        return f"s.{cohorts.maps[0]}[{{key:String}}]"
    return ("if(mapContains(s.attributes, {key:String}), s.attributes[{key:String}], "
            "s.resource_attributes[{key:String}])") if cohorts.maps else "''"


def holding_maps(store: Store, cohorts: Cohorts) -> tuple[str, ...]:
    """Those of the span and resource attribute maps where some call of the window has the key.

    A map's values are most of a scan's cost, and a key is usually a span attribute
    (`llmpulse.prompt.version`) or a resource one (`service.version`), seldom both: a map no call
    holds the key in is left unread. Each probe reads only the map's keys and stops at the first
    call that has it."""
    def holds(column: str) -> bool:
        sql = (f"SELECT 1 FROM {{db}}.spans AS s WHERE {call_conditions(cohorts)} "
               f"AND has(s.{column}.keys, {{key:String}}) LIMIT 1")
        return bool(store.query(sql, cohorts.params(), "cohort_maps"))
    return tuple(column for column in ATTRIBUTE_MAPS if holds(column))


def cohort_label(cohorts: Cohorts) -> str:
    """1 (cohort a) or 2 (b) for a span of either cohort, 0 for neither (a call tagged with both
    values is in neither). A number, not 'a'/'b': the scan groups every call of the window by it,
    and a UInt8 key is an array index where a string is a hash lookup (-10% at 10M spans)."""
    if cohorts.kind == TAG:
        has_a, has_b = (f"has(s.{TAGS_COLUMN}, {{{v}:String}})" for v in ("a", "b"))
        return f"multiIf({SHADOW_CALL}, 0, {has_a} AND NOT {has_b}, 1, {has_b} AND NOT {has_a}, 2, 0)"
    value = cohort_value(cohorts)
    return f"multiIf({SHADOW_CALL}, 0, {value} = {{a:String}}, 1, {value} = {{b:String}}, 2, 0)"


def by_side(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Rows keyed by their cohort label (`cohort_label`) as 'a' and 'b'."""
    return {_SIDES[row.pop("cohort")]: row for row in rows}


_SIDES = {1: "a", 2: "b"}


def call_conditions(cohorts: Cohorts) -> str:
    where = ["s.project_id = {project:String}", "s.is_call", time_range("s"), LIVE_CALLS,
             *filter_conditions(cohorts.filters, "s")]
    return " AND ".join(where)


# A cohort's counts and sums over its calls `s` (the rollup keeps the same per hour, `cohort_rollup`).
COUNTS = {
    "requests": "count()",
    "errors": "countIf(s.status_code = 'error')",
    "priced": "countIf(s.cost_total IS NOT NULL)",
    "cost_total": "sum(ifNull(s.cost_total, toDecimal128(0, 12)))",
    "streamed": "countIf(s.ttft_ms IS NOT NULL)",
    "output_tokens": "sum(ifNull(s.output_tokens, 0))",  # a call without a count adds 0, never NULL
}
# Each metric sampled: its value on a call, and which calls have one ('' for every call).
SAMPLES = {
    "latency_sample": ("s.duration_ms", ""),
    "ttft_sample": ("assumeNotNull(s.ttft_ms)", "s.ttft_ms IS NOT NULL"),
    "output_tokens_sample": ("toFloat64(assumeNotNull(s.output_tokens))", "s.output_tokens IS NOT NULL"),
    "cost_sample": ("toFloat64(assumeNotNull(s.cost_total))", "s.cost_total IS NOT NULL"),
}


def call_aggregates(combinator: str = "") -> str:
    """COUNTS and SAMPLES over calls `s`: their values, or with `combinator` "State" the aggregate
    states the rollup keeps (the samples then merge with -Merge across hours)."""
    counts = [f"{expression} AS {name}" for name, expression in COUNTS.items()]
    samples = []
    for name, (value, condition) in SAMPLES.items():
        arguments = f"{value}, {condition}" if condition else value
        function = f"groupArraySample{combinator}{'If' if condition else ''}"
        samples.append(f"{function}({SAMPLE_SIZE}, {SAMPLE_SEED})({arguments}) AS {name}")
    return ", ".join(counts + samples)


_AGGREGATES = call_aggregates()

NO_SCORES = {"scored": 0, "flagged": 0, "feedback_count": {}, "feedback_mean": {}, "feedback_sample": {}}
_SCORE_AGGREGATES = f"""
    countIf(x.verdict IS NOT NULL) AS scored,
    countIf(x.verdict = 1) AS flagged,
    countArrayMap(x.feedback) AS feedback_count,
    avgArrayMap(x.feedback) AS feedback_mean,
    groupArraySampleArrayMap({SAMPLE_SIZE}, {SAMPLE_SEED})(x.feedback) AS feedback_sample
"""


def _scores_per_span() -> str:
    """One row per production-scored span of the window: its requested model, its hallucination
    verdict (the most authoritative, `span_verdicts_sql`) and its numeric feedback by name."""
    feedback = (f"SELECT e.trace_id AS trace_id, e.span_id AS span_id, e.name AS name, any(e.request_model) AS model, "
                f"groupArray(assumeNotNull(e.score)) AS scores FROM {{db}}.{EVALUATIONS_TABLE} AS e FINAL "
                "WHERE e.project_id = {project:String} AND e.source IN {sources:Array(String)} AND e.score IS NOT NULL "
                "AND e.span_time >= {start:DateTime64(6, 'UTC')} AND e.span_time < {end:DateTime64(6, 'UTC')} "
                "GROUP BY trace_id, span_id, name")
    verdicts = ("SELECT v.trace_id AS trace_id, v.span_id AS span_id, v.request_model AS model, "
                "CAST(v.hallucinated, 'Nullable(UInt8)') AS verdict, '' AS name, CAST([], 'Array(Float64)') AS scores "
                f"FROM ({span_verdicts_sql()}) AS v")
    feedback_rows = ("SELECT f.trace_id AS trace_id, f.span_id AS span_id, f.model AS model, "
                     "CAST(NULL, 'Nullable(UInt8)') AS verdict, f.name AS name, f.scores AS scores "
                     f"FROM ({feedback}) AS f")
    feedback_map = "mapFromArrays(groupArrayIf(x.name, x.verdict IS NULL), groupArrayIf(x.scores, x.verdict IS NULL))"
    return (f"SELECT x.trace_id AS trace_id, x.span_id AS span_id, any(x.model) AS request_model, "
            f"max(x.verdict) AS verdict, {feedback_map} AS feedback "
            f"FROM ({verdicts} UNION ALL {feedback_rows}) AS x GROUP BY x.trace_id, x.span_id")


def cohort_calls(store: Store, cohorts: Cohorts) -> dict[str, dict[str, Any]]:
    """Per cohort ('a', 'b'): call counts, cost, percentiles and the metric samples; the scored
    calls (`scored`) and those judged hallucinated (`flagged`); per feedback name its count, mean
    and sample (`feedback_count`, `feedback_mean`, `feedback_sample`). A cohort without calls is
    absent. One scan of the window's calls."""
    probed = with_holding_maps(store, cohorts)
    if probed is None:
        return {}
    calls = (f"SELECT *, {cohort_label(probed)} AS cohort FROM {{db}}.spans AS s FINAL "
             f"WHERE {call_conditions(probed)}")
    sql = f"SELECT cohort, {_AGGREGATES} FROM ({calls}) AS s WHERE cohort != 0 GROUP BY cohort"
    return with_scores(store, probed, by_side(store.query_dicts(sql, probed.params(), "cohort_calls")))


def with_holding_maps(store: Store, cohorts: Cohorts) -> Cohorts | None:
    """Attribute cohorts reading only the maps that hold their key (`holding_maps`); None when no
    call of the window has the key. Other cohorts as they are."""
    if cohorts.kind != "attribute":
        return cohorts
    maps = holding_maps(store, cohorts)
    return replace(cohorts, maps=maps) if maps else None


def with_scores(store: Store, cohorts: Cohorts, found: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The cohorts' calls as read (`by_side`), each with its scores; {} when neither has a call."""
    if not found:
        return {}
    scores = _model_scores(store, cohorts) if cohorts.by_model_alone else _span_scores(store, cohorts)
    return {side: {**row, **scores.get(side, NO_SCORES)} for side, row in found.items()}


def _span_scores(store: Store, cohorts: Cohorts) -> dict[str, dict[str, Any]]:
    """The scores of the cohorts' calls, each scored span's cohort read from the copy of its facts
    on its evaluation rows (`schemas.clickhouse.span_facts`); the few rows without a copy are
    looked up among the calls."""
    facts = _copied_facts(cohorts)
    if _some_uncopied(store, cohorts):
        facts = (f"SELECT f.trace_id AS trace_id, f.span_id AS span_id, any(f.cohort) AS cohort "
                 f"FROM ({facts} UNION ALL {_looked_up_facts(cohorts)}) AS f GROUP BY f.trace_id, f.span_id")
    sql = (f"SELECT l.cohort AS cohort, {_SCORE_AGGREGATES} FROM ({_scores_per_span()}) AS x "
           f"INNER JOIN ({facts}) AS l ON l.trace_id = x.trace_id AND l.span_id = x.span_id "
           "WHERE l.cohort != 0 GROUP BY l.cohort")
    return by_side(store.query_dicts(sql, cohorts.params(), "cohort_scores"))


_SCORED_IN_WINDOW = ("s.project_id = {project:String} AND s.span_time >= {start:DateTime64(6, 'UTC')} "
                     "AND s.span_time < {end:DateTime64(6, 'UTC')}")


def _copied_facts(cohorts: Cohorts) -> str:
    """Per scored live call of the window: its cohort, from its evaluation rows' copy of its facts
    (the columns keep the span's names, so the cohort and filter SQL reads them as it reads spans)."""
    where = " AND ".join([_SCORED_IN_WINDOW, f"s.{FACTS_FLAG}", "s.is_call", LIVE_CALLS,
                          *filter_conditions(cohorts.filters, "s")])
    return (f"SELECT s.trace_id AS trace_id, s.span_id AS span_id, any({cohort_label(cohorts)}) AS cohort "
            f"FROM {{db}}.{EVALUATIONS_TABLE} AS s WHERE {where} GROUP BY s.trace_id, s.span_id")


def _some_uncopied(store: Store, cohorts: Cohorts) -> bool:
    """Whether a score of the window has no copy of its span's facts (written before migration 0012)."""
    sql = (f"SELECT 1 FROM {{db}}.{EVALUATIONS_TABLE} AS s WHERE {_SCORED_IN_WINDOW} "
           f"AND NOT s.{FACTS_FLAG} LIMIT 1")
    return bool(store.query(sql, cohorts.params(), "cohort_uncopied"))


def _looked_up_facts(cohorts: Cohorts) -> str:
    """The cohort of the calls scored by rows without the copy: a scan of the window's calls that
    keeps those span ids before it reads their attributes."""
    uncopied = (f"SELECT s.span_id FROM {{db}}.{EVALUATIONS_TABLE} AS s WHERE {_SCORED_IN_WINDOW} "
                f"AND NOT s.{FACTS_FLAG}")
    return (f"SELECT s.trace_id AS trace_id, s.span_id AS span_id, {cohort_label(cohorts)} AS cohort "
            f"FROM {{db}}.spans AS s FINAL WHERE {call_conditions(cohorts)} AND s.span_id IN ({uncopied})")


def _model_scores(store: Store, cohorts: Cohorts) -> dict[str, dict[str, Any]]:
    """The scores of model cohorts by the evaluation's own requested model, those of spans that are
    not live calls left out: a lookup that reads span ids only where such spans are."""
    not_live = (f"SELECT s.trace_id, s.span_id FROM {{db}}.spans AS s WHERE s.project_id = {{project:String}} "
                f"AND {time_range('s')} AND s.{MODEL_COLUMN} IN ({{a:String}}, {{b:String}}) "
                f"AND NOT (s.is_call AND {LIVE_CALLS} AND NOT {SHADOW_CALL})")
    label = "multiIf(x.request_model = {a:String}, 1, x.request_model = {b:String}, 2, 0)"
    sql = (f"SELECT {label} AS cohort, {_SCORE_AGGREGATES} FROM ({_scores_per_span()}) AS x "
           f"WHERE cohort != 0 AND (x.trace_id, x.span_id) NOT IN ({not_live}) GROUP BY cohort")
    return by_side(store.query_dicts(sql, cohorts.params(), "cohort_scores"))
