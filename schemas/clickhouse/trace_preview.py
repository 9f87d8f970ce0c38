"""A line of each listed trace's conversation: its first question and its last answer.

Read for one page of the trace list only (its ids, between its first and last span start), so it
adds one small query to the list; the texts are cut down in ClickHouse, so a long prompt or a
RAG context is never shipped whole to the page.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from schemas.clickhouse.store import Store

PREVIEW_CHARS = 200

# A message's text: its `content` string, or the texts of its `parts` (the two shapes the collector stores).
_TEXT = ("if(JSONType({m}, 'content') = 'String', JSONExtractString({m}, 'content'), "
         "arrayStringConcat(arrayMap(p -> JSONExtractString(p, 'content'), JSONExtractArrayRaw({m}, 'parts')), ' '))")
_FIRST_USER = "arrayFirst(m -> JSONExtractString(m, 'role') = 'user', JSONExtractArrayRaw(first_input))"
_LAST_OUTPUT = "arrayLast(m -> 1, JSONExtractArrayRaw(last_output))"

_PREVIEW_SQL = f"""
SELECT trace_id, leftUTF8(trimBoth(replaceRegexpAll({_TEXT.format(m="question_message")}, '\\\\s+', ' ')),
                          {{chars:UInt32}}) AS question,
    leftUTF8(trimBoth(replaceRegexpAll({_TEXT.format(m="answer_message")}, '\\\\s+', ' ')), {{chars:UInt32}}) AS answer
FROM (
    SELECT s.trace_id AS trace_id,
        argMinIf(s.input_messages, s.start_time, s.input_messages NOT IN ('', '[]')) AS first_input,
        argMaxIf(s.output_messages, s.end_time, s.output_messages NOT IN ('', '[]')) AS last_output,
        {_FIRST_USER} AS question_message, {_LAST_OUTPUT} AS answer_message
    FROM {{db}}.spans AS s
    WHERE s.project_id = {{project:String}} AND s.start_time >= {{start:DateTime64(6, 'UTC')}}
        AND s.start_time <= {{end:DateTime64(6, 'UTC')}} AND s.trace_id IN {{ids:Array(String)}}
    GROUP BY s.trace_id
)
"""


def trace_previews(store: Store, project: str, traces: list[dict[str, Any]]) -> dict[str, tuple[str, str]]:
    """(first user message, last answer) by trace id, each at most PREVIEW_CHARS characters ("" when
    the trace's spans carry no such message, e.g. messages sent as log events or redacted)."""
    if not traces:
        return {}
    starts = [datetime.fromisoformat(t["start_time"]) for t in traces]
    ends = [datetime.fromisoformat(t["end_time"]) for t in traces]
    params = {"project": project, "ids": [t["trace_id"] for t in traces], "start": min(starts),
              "end": max(ends) + timedelta(microseconds=1), "chars": PREVIEW_CHARS}
    rows = store.query_dicts(_PREVIEW_SQL, params, "trace_previews")
    return {r["trace_id"]: (r["question"], r["answer"]) for r in rows}
