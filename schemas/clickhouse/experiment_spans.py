"""Reads of the spans behind an experiment's items: the item spans, what each item's trace cost,
the spans an app tagged with an experiment, and the last answer of a trace.

Every read is bounded below by a start time (the experiment's creation, less a margin for the
clocks of app hosts), so it prunes the spans table's partitions and hour keys instead of scanning
a project's history, and reads FINAL so a redelivered span counts once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from schemas.clickhouse.store import Store
from schemas.experiment_fields import EXPERIMENT_KEYS, ITEM_KEYS, LANGFUSE_ROOT_SPAN, OUTPUT_KEYS

_SINCE = "start_time >= {since:DateTime64(6, 'UTC')}"


def item_spans(store: Store, project: str, trace_ids: Sequence[str], since: datetime) -> list[dict[str, Any]]:
    """Identity, model, time, duration and status of every span of these traces."""
    if not trace_ids:
        return []
    sql = ("SELECT trace_id, span_id, request_model, start_time, duration_ms, status_code, status_message "
           "FROM {db}.spans FINAL WHERE project_id = {project:String} AND trace_id IN {traces:Array(String)} "
           f"AND {_SINCE}")
    params = {"project": project, "traces": sorted(set(trace_ids)), "since": since}
    return store.query_dicts(sql, params, "experiment_item_spans")


def trace_call_totals(store: Store, project: str, trace_ids: Sequence[str], since: datetime) -> list[dict[str, Any]]:
    """Per trace: its LLM calls (one per call key, so a call traced twice counts once), how many of
    them are unpriced, and the sums of cost and tokens (a Decimal sum: money keeps its precision)."""
    if not trace_ids:
        return []
    sql = f"""
    SELECT trace_id, count() AS calls, countIf(cost_total IS NULL) AS unpriced, sum(cost_total) AS cost,
        sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens
    FROM (SELECT trace_id, call_key, cost_total, input_tokens, output_tokens FROM {{db}}.spans FINAL
          WHERE project_id = {{project:String}} AND trace_id IN {{traces:Array(String)}} AND is_call AND {_SINCE}
          ORDER BY start_time LIMIT 1 BY trace_id, call_key)
    GROUP BY trace_id"""
    params = {"project": project, "traces": sorted(set(trace_ids)), "since": since}
    return store.query_dicts(sql, params, "experiment_trace_costs")


def _first_of(keys: Sequence[str], prefix: str, params: dict[str, Any]) -> str:
    """The first non-empty attribute of `keys` (bound as parameters), as an SQL expression."""
    names = []
    for n, key in enumerate(keys):
        params[f"{prefix}{n}"] = key
        names.append(f"nullIf(attributes[{{{prefix}{n}:String}}], '')")
    return f"ifNull(coalesce({', '.join(names)}), '')"


def tagged_spans(store: Store, project: str, experiment: str, since: datetime) -> list[dict[str, Any]]:
    """The spans that name `experiment` (ours or Langfuse's attribute) and carry a dataset item id,
    with the item id, Langfuse's root observation id and the answer they record, if any."""
    params: dict[str, Any] = {"project": project, "experiment": experiment, "since": since}
    named = " OR ".join(f"attributes[{{e{n}:String}}] = {{experiment:String}}" for n in range(len(EXPERIMENT_KEYS)))
    params.update({f"e{n}": key for n, key in enumerate(EXPERIMENT_KEYS)})
    item, output = _first_of(ITEM_KEYS, "i", params), _first_of(OUTPUT_KEYS, "o", params)
    params["root_key"] = LANGFUSE_ROOT_SPAN
    sql = f"""
    SELECT trace_id, span_id, parent_span_id, start_time, duration_ms, status_code, status_message,
        {item} AS item_id, attributes[{{root_key:String}}] AS root_span_id, {output} AS output
    FROM {{db}}.spans FINAL
    WHERE project_id = {{project:String}} AND {_SINCE} AND ({named}) AND {item} != ''
    ORDER BY start_time, span_id"""
    return store.query_dicts(sql, params, "experiment_tagged_spans")


def last_call_outputs(store: Store, project: str, trace_ids: Sequence[str], since: datetime) -> dict[str, str]:
    """Per trace, the output messages (JSON) of the LLM call that ended last: an app's answer when
    its root span records none."""
    if not trace_ids:
        return {}
    sql = ("SELECT trace_id, argMax(output_messages, end_time) AS last_output FROM {db}.spans FINAL "
           "WHERE project_id = {project:String} AND trace_id IN {traces:Array(String)} AND is_call "
           f"AND output_messages != '' AND {_SINCE} GROUP BY trace_id")
    params = {"project": project, "traces": sorted(set(trace_ids)), "since": since}
    return {row["trace_id"]: row["last_output"] for row in store.query_dicts(sql, params, "experiment_outputs")}
