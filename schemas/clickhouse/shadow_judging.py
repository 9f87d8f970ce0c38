"""The reads of the shadow judge (`detectors.shadow_judge`): which pairs to ask about, and their texts.

Pairs come from `shadow_pairs` (one row per shadow call, kept by the shadow-pairs detector), never
from pairing raw spans: a run reads ~1 row per shadow call of its lookback, then the messages of
the few pairs it picked, by (hour, trace id), a prefix of the spans' primary key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.clickhouse.evaluations import SAMPLE_SCALE
from schemas.clickhouse.quality import EVALUATIONS_TABLE
from schemas.clickhouse.shadow import PREFERENCE_NAME
from schemas.clickhouse.shadow_pairs import MARGIN, PAIRS_TABLE
from schemas.clickhouse.store import Store
from schemas.times import floor_hour


@dataclass(frozen=True)
class PairToJudge:
    trace_id: str
    candidate_id: str  # the shadow span, where the verdict is filed
    primary_id: str
    candidate_model: str
    primary_model: str
    start_time: datetime  # the shadow call's, UTC


@dataclass(frozen=True)
class PairSpans:
    """The stored messages (JSON) of the pairs' spans by (trace id, span id), and each trace's
    retrieved documents (JSON), which the judge gets as context."""

    messages: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    documents: dict[str, list[str]] = field(default_factory=dict)


def pairs_to_judge(store: Store, project: str, rate: float, oldest: datetime, limit: int) -> list[PairToJudge]:
    """Up to `limit` paired shadow calls started since `oldest`, newest first, that carry no
    `shadow_preference` yet (from anyone), picked by the sample rate as the hallucination sampler
    picks spans: hashed by the primary's span id, so a judged pair is one whose answers the
    sampler scores too."""
    sql = f"""
    SELECT p.trace_id AS trace_id, p.candidate_id AS candidate_id, p.primary_id AS primary_id,
        p.request_model AS candidate_model, p.primary_model AS primary_model, p.start_time AS start_time
    FROM {{db}}.{PAIRS_TABLE} AS p FINAL
    WHERE p.project_id = {{project:String}} AND p.primary_id != '' AND p.start_time >= {{oldest:DateTime64(6, 'UTC')}}
        AND cityHash64(p.trace_id, p.shadow_of) % {SAMPLE_SCALE} < {{threshold:UInt64}}
        AND (p.trace_id, p.candidate_id) NOT IN (SELECT e.trace_id, e.span_id FROM {{db}}.{EVALUATIONS_TABLE} AS e
            WHERE e.project_id = {{project:String}} AND e.name = '{PREFERENCE_NAME}'
            AND e.span_time >= {{oldest:DateTime64(6, 'UTC')}})
    ORDER BY p.start_time DESC, p.trace_id, p.candidate_id LIMIT {{limit:UInt32}}"""
    params = {"project": project, "oldest": oldest, "threshold": int(rate * SAMPLE_SCALE), "limit": limit}
    return [PairToJudge(**{**row, "start_time": _aware(row["start_time"])})
            for row in store.query_dicts(sql, params, "shadow_judge_pairs")]


def pair_spans(store: Store, project: str, pairs: Sequence[PairToJudge]) -> PairSpans:
    """Both calls' messages and the traces' retrieved documents, in one read by (hour, trace id)
    around each shadow call (its primary and retrieval spans start within MARGIN of it)."""
    if not pairs:
        return PairSpans()
    sql = ("SELECT s.trace_id AS trace_id, s.span_id AS span_id, any(s.input_messages) AS input_messages, "
           "any(s.output_messages) AS output_messages, any(s.retrieval_documents) AS documents "
           "FROM {db}.spans AS s WHERE s.project_id = {project:String} "
           "AND s.start_time >= {start:DateTime64(6, 'UTC')} AND s.start_time < {end:DateTime64(6, 'UTC')} "
           "AND (toStartOfHour(s.start_time), s.trace_id) IN {keys:Array(Tuple(DateTime('UTC'), String))} "
           "AND (s.span_id IN {spans:Array(String)} OR s.retrieval_documents != '') "
           "GROUP BY s.trace_id, s.span_id ORDER BY s.trace_id, s.span_id")
    rows = store.query_dicts(sql, _span_params(project, pairs), "shadow_judge_spans")
    return _pair_spans(rows, {(p.trace_id, s) for p in pairs for s in (p.primary_id, p.candidate_id)})


def _span_params(project: str, pairs: Sequence[PairToJudge]) -> dict[str, Any]:
    times = [p.start_time for p in pairs]
    keys = {(floor_hour(p.start_time + shift), p.trace_id) for p in pairs for shift in (-MARGIN, timedelta(0), MARGIN)}
    return {"project": project, "start": min(times) - MARGIN, "end": max(times) + MARGIN, "keys": sorted(keys),
            "spans": sorted({s for p in pairs for s in (p.primary_id, p.candidate_id)})}


def _pair_spans(rows: list[dict[str, Any]], wanted: set[tuple[str, str]]) -> PairSpans:
    found = PairSpans()
    for row in rows:
        key = (row["trace_id"], row["span_id"])
        if key in wanted:
            found.messages[key] = {"input": row["input_messages"], "output": row["output_messages"]}
        if row["documents"]:
            found.documents.setdefault(row["trace_id"], []).append(row["documents"])
    return found


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
