"""Shadow calls paired with their primaries: the reads behind `GET /api/v1/shadow`.

A shadow call names its primary by span id (`schemas.shadow_fields`); both are spans of one trace.
The pairing is a join of the window's shadow spans (few) to the spans they name, found by
(trace, span id) among the window's spans, so every count and delta is an aggregate over all
pairs in ClickHouse; the answers, whose text is costly to read, are read for a bounded sample only.
A shadow span whose primary is not in the store (never sent, or outside the window) is unpaired.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from schemas.clickhouse.filters import filter_conditions, filter_params
from schemas.clickhouse.quality import EVALUATIONS_TABLE
from schemas.clickhouse.queries import TWIN_MARGIN
from schemas.clickhouse.store import Store

# Scorers whose score is an answer's groundedness, the judge's preferred over the offline one.
GROUNDEDNESS_SCORERS = ("llm_judge", "groundedness")
# The name of a verdict on a pair (a judge's, a person's, the app's through POST /api/v1/scores),
# filed on the shadow span: label primary|candidate|tie.
PREFERENCE_NAME = "shadow_preference"
PREFERENCE_LABELS = ("primary", "candidate", "tie")

_WINDOW = "s.start_time >= {start:DateTime64(6, 'UTC')} AND s.start_time < {end:DateTime64(6, 'UTC')}"
# A primary starts before its shadow call, or soon after it: looked for this far around the window.
_WIDE = (f"s.start_time >= {{start:DateTime64(6, 'UTC')}} - {TWIN_MARGIN} "
         f"AND s.start_time < {{end:DateTime64(6, 'UTC')}} + {TWIN_MARGIN}")


def _candidates(filters: Mapping[str, str]) -> str:
    """The window's shadow spans (redelivered copies collapsed) that match `filters`."""
    where = " AND ".join(["s.project_id = {project:String}", _WINDOW, "s.shadow_of != ''",
                          *filter_conditions(filters, "s")])
    return (f"SELECT s.trace_id AS trace_id, s.span_id AS span_id, any(s.shadow_of) AS shadow_of, "
            "any(s.request_model) AS model, any(s.cost_total) AS cost, any(s.duration_ms) AS duration_ms "
            f"FROM {{db}}.spans AS s WHERE {where} GROUP BY s.trace_id, s.span_id")


def _pairs_sql(filters: Mapping[str, str]) -> str:
    """Every shadow span with its primary's facts (primary_id '' when there is none)."""
    candidates = _candidates(filters)
    primaries = ("SELECT s.trace_id AS trace_id, s.span_id AS span_id, any(s.request_model) AS model, "
                 "any(s.cost_total) AS cost, any(s.duration_ms) AS duration_ms FROM {db}.spans AS s "
                 f"WHERE s.project_id = {{project:String}} AND {_WIDE} "
                 f"AND (s.trace_id, s.span_id) IN (SELECT trace_id, shadow_of FROM ({candidates})) "
                 "GROUP BY s.trace_id, s.span_id")
    return (f"SELECT c.trace_id AS trace_id, c.span_id AS candidate_id, c.shadow_of AS shadow_of, "
            "c.model AS candidate_model, c.cost AS candidate_cost, c.duration_ms AS candidate_ms, "
            "p.span_id AS primary_id, p.model AS primary_model, p.cost AS primary_cost, p.duration_ms AS primary_ms "
            f"FROM ({candidates}) AS c LEFT JOIN ({primaries}) AS p "
            "ON p.trace_id = c.trace_id AND p.span_id = c.shadow_of")


def _scores_sql() -> str:
    """Each scored span's groundedness (the judge's when it gave one) and a judge's pair preference."""
    return (f"SELECT e.trace_id AS trace_id, e.span_id AS span_id, "
            f"argMaxIf(e.score, e.scorer = '{GROUNDEDNESS_SCORERS[0]}', e.scorer IN {GROUNDEDNESS_SCORERS} "
            "AND e.score IS NOT NULL) AS grounded, "
            f"argMaxIf(e.label, e.created_at, e.name = '{PREFERENCE_NAME}') AS preference "
            f"FROM {{db}}.{EVALUATIONS_TABLE} AS e FINAL WHERE e.project_id = {{project:String}} "
            f"AND e.span_time >= {{start:DateTime64(6, 'UTC')}} - {TWIN_MARGIN} "
            f"AND e.span_time < {{end:DateTime64(6, 'UTC')}} + {TWIN_MARGIN} "
            f"AND (e.scorer IN {GROUNDEDNESS_SCORERS} OR e.name = '{PREFERENCE_NAME}') GROUP BY e.trace_id, e.span_id")


_DELTA_COST = "toFloat64(x.candidate_cost) - toFloat64(x.primary_cost)"
_DELTA_MS = "x.candidate_ms - x.primary_ms"
_PAIR_AGGREGATES = f"""count() AS pairs,
    avgIf({_DELTA_COST}, x.candidate_cost IS NOT NULL AND x.primary_cost IS NOT NULL) AS cost_delta_mean,
    sumIf({_DELTA_COST}, x.candidate_cost IS NOT NULL AND x.primary_cost IS NOT NULL) AS cost_delta_total,
    countIf(x.candidate_cost IS NOT NULL AND x.primary_cost IS NOT NULL) AS priced_pairs,
    avg({_DELTA_MS}) AS latency_delta_mean, quantileExact(0.5)({_DELTA_MS}) AS latency_delta_median,
    avgIf(pe.grounded, pe.grounded IS NOT NULL) AS primary_groundedness,
    countIf(pe.grounded IS NOT NULL) AS primary_scored,
    avgIf(ce.grounded, ce.grounded IS NOT NULL) AS candidate_groundedness,
    countIf(ce.grounded IS NOT NULL) AS candidate_scored,
    countIf(ce.preference = 'primary') AS prefer_primary, countIf(ce.preference = 'candidate') AS prefer_candidate,
    countIf(ce.preference = 'tie') AS prefer_tie"""


def _params(project: str, start: datetime, end: datetime, filters: Mapping[str, str]) -> dict[str, Any]:
    return {"project": project, "start": start, "end": end, **filter_params(filters)}


def pair_totals(store: Store, project: str, start: datetime, end: datetime,
                filters: Mapping[str, str]) -> list[dict[str, Any]]:
    """Per (primary model, candidate model): pairs, cost and latency deltas, groundedness of each
    side and the judge's preferences, over every pair of the window; busiest first."""
    sql = (f"SELECT x.primary_model AS primary_model, x.candidate_model AS candidate_model, {_PAIR_AGGREGATES} "
           f"FROM ({_pairs_sql(filters)}) AS x "
           f"LEFT JOIN ({_scores_sql()}) AS pe ON pe.trace_id = x.trace_id AND pe.span_id = x.primary_id "
           f"LEFT JOIN ({_scores_sql()}) AS ce ON ce.trace_id = x.trace_id AND ce.span_id = x.candidate_id "
           "WHERE x.primary_id != '' GROUP BY primary_model, candidate_model "
           "ORDER BY pairs DESC, primary_model, candidate_model SETTINGS join_use_nulls = 1")
    return store.query_dicts(sql, _params(project, start, end, filters), "shadow_pair_totals")


def unpaired(store: Store, project: str, start: datetime, end: datetime, filters: Mapping[str, str],
             limit: int) -> tuple[int, list[dict[str, Any]]]:
    """(how many, the newest `limit`) shadow spans of the window whose primary is not stored."""
    sql = (f"SELECT x.trace_id AS trace_id, x.candidate_id AS span_id, x.shadow_of AS shadow_of, "
           "x.candidate_model AS candidate_model, count() OVER () AS total "
           f"FROM ({_pairs_sql(filters)}) AS x WHERE x.primary_id IS NULL OR x.primary_id = '' "
           "ORDER BY trace_id, span_id LIMIT {limit:UInt32} SETTINGS join_use_nulls = 1")
    rows = store.query_dicts(sql, {**_params(project, start, end, filters), "limit": limit}, "shadow_unpaired")
    return (rows[0]["total"] if rows else 0), [{k: v for k, v in r.items() if k != "total"} for r in rows]


def sampled_pairs(store: Store, project: str, start: datetime, end: datetime, filters: Mapping[str, str],
                  per_model_pair: int) -> list[dict[str, Any]]:
    """Up to `per_model_pair` pairs per (primary model, candidate model), picked by a hash of the
    trace (the same pairs on every read), with both answers' stored output messages."""
    picked = (f"SELECT x.* FROM ({_pairs_sql(filters)}) AS x WHERE x.primary_id != '' "
              "ORDER BY cityHash64(x.trace_id, x.candidate_id) "
              "LIMIT {per_pair:UInt32} BY x.primary_model, x.candidate_model SETTINGS join_use_nulls = 1")
    params = {**_params(project, start, end, filters), "per_pair": per_model_pair}
    pairs = store.query_dicts(picked, params, "shadow_sample")
    answers = _answers(store, project, start, end, pairs)
    for pair in pairs:
        pair["primary_output"] = answers.get((pair["trace_id"], pair["primary_id"]), "")
        pair["candidate_output"] = answers.get((pair["trace_id"], pair["candidate_id"]), "")
    return pairs


def _answers(store: Store, project: str, start: datetime, end: datetime,
             pairs: Sequence[dict[str, Any]]) -> dict[tuple[str, str], str]:
    """The output messages (JSON) of the sampled pairs' spans, read by trace id (bloom-indexed)."""
    if not pairs:
        return {}
    sql = ("SELECT s.trace_id AS trace_id, s.span_id AS span_id, any(s.output_messages) AS output "
           f"FROM {{db}}.spans AS s WHERE s.project_id = {{project:String}} AND {_WIDE} "
           "AND s.trace_id IN {traces:Array(String)} AND s.span_id IN {spans:Array(String)} "
           "GROUP BY s.trace_id, s.span_id")
    params = {"project": project, "start": start, "end": end, "traces": sorted({p["trace_id"] for p in pairs}),
              "spans": sorted({p[k] for p in pairs for k in ("primary_id", "candidate_id")})}
    return {(r["trace_id"], r["span_id"]): r["output"] for r in store.query_dicts(sql, params, "shadow_answers")}
