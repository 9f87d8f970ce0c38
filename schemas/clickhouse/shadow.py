"""Shadow calls paired with their primaries: the reads behind `GET /api/v1/shadow`.

A shadow call names its primary by span id (`schemas.shadow_fields`); both are spans of one trace.
The pairs come from `shadow_pairs` (kept by the shadow-pairs detector, raw spans paired where it
does not hold them yet), so every count and delta is an aggregate over all pairs in ClickHouse;
the answers, whose text is costly to read, are read for a bounded sample only.
A shadow span whose primary is not in the store (never sent, or outside the window) is unpaired.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.clickhouse.filters import filter_params
from schemas.clickhouse.metrics import RollupSpan
from schemas.clickhouse.quality import EVALUATIONS_TABLE, SOURCE_APP, SOURCE_HUMAN, SOURCE_JUDGE, VERDICT_ORDER
from schemas.clickhouse.queries import TWIN_MARGIN
from schemas.clickhouse.shadow_pairs import MARGIN, pairs_source
from schemas.clickhouse.store import Store
from schemas.times import floor_hour

# Scorers whose score is an answer's groundedness, the judge's preferred over the offline one.
GROUNDEDNESS_SCORERS = ("llm_judge", "groundedness")
# The name of a verdict on a pair (the shadow judge's, a person's, the app's through POST
# /api/v1/scores), filed on the shadow span: label primary|candidate|tie (any case).
PREFERENCE_NAME = "shadow_preference"
PREFERENCE_LABELS = ("primary", "candidate", "tie")
PERSON_SOURCES = (SOURCE_HUMAN, SOURCE_APP)  # verdicts that outrank the judge's, as on hallucination
_PREFERENCE = f"e.name = '{PREFERENCE_NAME}' AND lower(e.label) IN {PREFERENCE_LABELS}"

# A primary starts before its shadow call, or soon after it: looked for this far around the window.
_WIDE = (f"s.start_time >= {{start:DateTime64(6, 'UTC')}} - {TWIN_MARGIN} "
         f"AND s.start_time < {{end:DateTime64(6, 'UTC')}} + {TWIN_MARGIN}")


def _pairs_sql(source: str) -> str:
    """The pairs of `source` (`shadow_pairs.pairs_source`) as the reads use them: primary_id and
    primary_model NULL for a shadow call whose primary is not stored."""
    return ("SELECT u.trace_id AS trace_id, u.candidate_id AS candidate_id, u.shadow_of AS shadow_of, "
            "u.request_model AS candidate_model, u.candidate_cost AS candidate_cost, u.candidate_ms AS candidate_ms, "
            "nullIf(u.primary_id, '') AS primary_id, if(u.primary_id = '', NULL, u.primary_model) AS primary_model, "
            "u.primary_cost AS primary_cost, u.primary_ms AS primary_ms, u.start_time AS start_time "
            f"FROM ({source}) AS u")


def _scores_sql() -> str:
    """Each scored span's groundedness (the judge's when it gave one) and its pair preference: the
    one that counts (a person's, then the app's, then the judge's; the newest of a kind) and its
    source, the judge's own and the newest of a person or the app (to see how far they agree)."""
    return (f"SELECT sipHash128(e.trace_id, e.span_id) AS span_key, "
            f"argMaxIf(e.score, e.scorer = '{GROUNDEDNESS_SCORERS[0]}', e.scorer IN {GROUNDEDNESS_SCORERS} "
            "AND e.score IS NOT NULL) AS grounded, "
            f"argMaxIf(lower(e.label), {VERDICT_ORDER}, {_PREFERENCE}) AS preference, "
            f"argMaxIf(e.source, {VERDICT_ORDER}, {_PREFERENCE}) AS preference_source, "
            f"argMaxIf(lower(e.label), e.created_at, {_PREFERENCE} AND e.source = '{SOURCE_JUDGE}') AS judge_label, "
            f"argMaxIf(lower(e.label), {VERDICT_ORDER}, {_PREFERENCE} AND e.source IN {PERSON_SOURCES}) "
            "AS person_label "
            f"FROM {{db}}.{EVALUATIONS_TABLE} AS e FINAL WHERE e.project_id = {{project:String}} "
            f"AND e.span_time >= {{start:DateTime64(6, 'UTC')}} - {TWIN_MARGIN} "
            f"AND e.span_time < {{end:DateTime64(6, 'UTC')}} + {TWIN_MARGIN} "
            f"AND (e.scorer IN {GROUNDEDNESS_SCORERS} OR e.name = '{PREFERENCE_NAME}') GROUP BY span_key")


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
    countIf(ce.preference = 'tie') AS prefer_tie,
    countIf(ce.preference_source = '{SOURCE_JUDGE}') AS preferred_by_judge,
    countIf(ce.preference_source = '{SOURCE_APP}') AS preferred_by_app,
    countIf(ce.preference_source = '{SOURCE_HUMAN}') AS preferred_by_human,
    countIf(ce.judge_label != '' AND ce.person_label != '') AS judge_checked,
    countIf(ce.judge_label != '' AND ce.judge_label = ce.person_label) AS judge_agreed"""
# A window without any score joins this instead (the joins are half the report's cost over 10M spans).
_NO_SCORES = ("(SELECT CAST(NULL, 'Nullable(Float64)') AS grounded, '' AS preference, '' AS preference_source, "
              "'' AS judge_label, '' AS person_label)")


def _params(project: str, start: datetime, end: datetime, filters: Mapping[str, str]) -> dict[str, Any]:
    return {"project": project, "start": start, "end": end, **filter_params(filters)}


def pair_totals(store: Store, project: str, start: datetime, end: datetime, filters: Mapping[str, str],
                held: RollupSpan | None = None) -> list[dict[str, Any]]:
    """Per (primary model, candidate model): pairs, cost and latency deltas, groundedness of each
    side and the preferences (one per pair, by source), over every pair of the window; busiest first. Shadow calls
    without a primary come as rows whose primary_model is None (their count in `pairs`). The
    scores are joined only when the window has any (the joins are half the cost over 10M spans)."""
    source, extra = pairs_source(filters, start, end, held)
    params = {**_params(project, start, end, filters), **extra}
    scored = store.query(f"SELECT count() FROM ({_scores_sql()})", params, "shadow_scored")[0][0]
    scores = (f"LEFT JOIN ({_scores_sql()}) AS pe ON pe.span_key = sipHash128(x.trace_id, x.primary_id) "
              f"LEFT JOIN ({_scores_sql()}) AS ce ON ce.span_key = sipHash128(x.trace_id, x.candidate_id) "
              if scored else
              f"CROSS JOIN {_NO_SCORES} AS pe CROSS JOIN {_NO_SCORES} AS ce ")
    sql = (f"SELECT x.primary_model AS primary_model, x.candidate_model AS candidate_model, {_PAIR_AGGREGATES} "
           f"FROM ({_pairs_sql(source)}) AS x {scores}"
           "GROUP BY primary_model, candidate_model "
           "ORDER BY pairs DESC, primary_model, candidate_model SETTINGS join_use_nulls = 1")
    return store.query_dicts(sql, params, "shadow_pair_totals")


def unpaired(store: Store, project: str, start: datetime, end: datetime, filters: Mapping[str, str],
             limit: int, held: RollupSpan | None = None) -> list[dict[str, Any]]:
    """The first `limit` shadow spans of the window whose primary is not stored."""
    source, extra = pairs_source(filters, start, end, held)
    sql = (f"SELECT x.trace_id AS trace_id, x.candidate_id AS span_id, x.shadow_of AS shadow_of, "
           "x.candidate_model AS candidate_model "
           f"FROM ({_pairs_sql(source)}) AS x WHERE x.primary_id IS NULL "
           "ORDER BY trace_id, span_id LIMIT {limit:UInt32}")
    params = {**_params(project, start, end, filters), **extra, "limit": limit}
    return store.query_dicts(sql, params, "shadow_unpaired")


def sampled_pairs(store: Store, project: str, start: datetime, end: datetime, filters: Mapping[str, str],
                  per_model: int, held: RollupSpan | None = None) -> list[dict[str, Any]]:
    """Up to `per_model` pairs per candidate model, picked by a hash of the shadow span (the same
    pairs on every read), with both calls' models and stored output messages. The sample is
    chosen among the pairs (paired or not, as before the pairs table); the answers are then read by
    (hour, trace id), a prefix of the spans' primary key, rather than by joining the whole window."""
    source, extra = pairs_source(filters, start, end, held)
    picked = ("SELECT x.trace_id AS trace_id, x.candidate_id AS candidate_id, x.shadow_of AS primary_id, "
              f"x.candidate_model AS candidate_model, x.start_time AS start_time FROM ({_pairs_sql(source)}) AS x "
              "ORDER BY cityHash64(x.trace_id, x.candidate_id) LIMIT {per_model:UInt32} BY x.candidate_model")
    params = {**_params(project, start, end, filters), **extra, "per_model": per_model}
    sample = store.query_dicts(picked, params, "shadow_sample")
    calls = _calls(store, project, start, end, sample)
    pairs = []
    for pair in sample:
        primary = calls.get((pair["trace_id"], pair["primary_id"]))
        if primary is not None:  # an unpaired shadow call has nothing to agree with
            candidate = calls.get((pair["trace_id"], pair["candidate_id"]), {})
            pair = {k: v for k, v in pair.items() if k != "start_time"}
            pairs.append({**pair, "primary_model": primary["model"], "primary_output": primary["output"],
                          "candidate_output": candidate.get("output", "")})
    return pairs


def _calls(store: Store, project: str, start: datetime, end: datetime,
           pairs: Sequence[dict[str, Any]]) -> dict[tuple[str, str], dict[str, str]]:
    """The model and output messages (JSON) of the sampled pairs' spans, read by (hour, trace id)
    around each shadow call's start (its primary starts within MARGIN of it)."""
    if not pairs:
        return {}
    sql = ("SELECT s.trace_id AS trace_id, s.span_id AS span_id, any(s.request_model) AS model, "
           "any(s.output_messages) AS output "
           f"FROM {{db}}.spans AS s WHERE s.project_id = {{project:String}} AND {_WIDE} "
           "AND (toStartOfHour(s.start_time), s.trace_id) IN {keys:Array(Tuple(DateTime('UTC'), String))} "
           "AND s.span_id IN {spans:Array(String)} GROUP BY s.trace_id, s.span_id")
    keys = {(floor_hour(_aware(p["start_time"]) + shift), p["trace_id"]) for p in pairs
            for shift in (-MARGIN, timedelta(0), MARGIN)}
    params = {"project": project, "start": start, "end": end, "keys": sorted(keys),
              "spans": sorted({p[k] for p in pairs for k in ("primary_id", "candidate_id")})}
    return {(r["trace_id"], r["span_id"]): r for r in store.query_dicts(sql, params, "shadow_answers")}


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
