"""What an A/B comparison of live calls can be cut by: the attribute keys calls carried recently and
the values one attribute took, so the A/B page offers choices instead of a blank box.

Both read the most recent calls of the window only (`SAMPLE_CALLS`): a suggestion needs to be
typical, not exhaustive, and reading every attribute map of a month is what would make it slow.
A key is offered when it looks like a cohort label (few distinct values on many calls), which
keeps out message contents, prompts, ids and token counts.
"""

from __future__ import annotations

from datetime import datetime

from schemas.clickhouse.cohorts import COLUMNS, TAG
from schemas.clickhouse.queries import time_range
from schemas.clickhouse.store import Store

SAMPLE_CALLS = 20_000  # the most recent calls of the window that suggestions are drawn from
MAX_DISTINCT = 50  # a key with more values than this in the sample is an id or a text, not a cohort
MIN_SHARE = 5  # ... and each of its values is on this many calls on average (a label recurs; an id does not)
MAX_LENGTH = 100  # ... and short: a system prompt recurs too, but is no label
KEY_LIMIT = 40
VALUE_LIMIT = 100


def _recent_calls(columns: str) -> str:
    return (f"SELECT {columns} FROM {{db}}.spans WHERE project_id = {{project:String}} AND is_call "
            f"AND {time_range()} ORDER BY start_time DESC LIMIT {SAMPLE_CALLS}")


_KEYS_SQL = (
    "SELECT key, count() AS calls FROM ("
    "SELECT key, value FROM (" + _recent_calls("attributes, resource_attributes") + ") "
    "ARRAY JOIN arrayConcat(mapKeys(attributes), mapKeys(resource_attributes)) AS key, "
    "arrayConcat(mapValues(attributes), mapValues(resource_attributes)) AS value) "
    f"GROUP BY key HAVING uniq(value) BETWEEN 2 AND least({MAX_DISTINCT}, count() / {MIN_SHARE}) "
    f"AND max(length(value)) <= {MAX_LENGTH} "
    f"ORDER BY calls DESC, key LIMIT {KEY_LIMIT}"
)


def attribute_keys(store: Store, project: str, start: datetime, end: datetime) -> list[str]:
    """Span and resource attribute keys of recent calls that split them into a few cohorts, commonest first."""
    rows = store.query(_KEYS_SQL, _params(project, start, end), "cohort_attribute_keys")
    return [key for key, _ in rows]


def _value_expression(attribute: str) -> str:
    if attribute == TAG:
        return "arrayJoin(tags)"
    if attribute in COLUMNS:
        return COLUMNS[attribute]
    return ("if(mapContains(attributes, {attribute:String}), attributes[{attribute:String}], "
            "resource_attributes[{attribute:String}])")


def attribute_values(store: Store, project: str, attribute: str, start: datetime, end: datetime) -> list[str]:
    """The values `attribute` (a column's name as GET /api/v1/compare takes it, `tag`, or an attribute key)
    took on recent calls, commonest first."""
    columns = "tags" if attribute == TAG else COLUMNS.get(attribute, "attributes, resource_attributes")
    sql = (f"SELECT value, count() AS calls FROM (SELECT {_value_expression(attribute)} AS value "
           f"FROM ({_recent_calls(columns)})) WHERE value != '' GROUP BY value ORDER BY calls DESC, value "
           f"LIMIT {VALUE_LIMIT}")
    params = {**_params(project, start, end), "attribute": attribute}
    return [value for value, _ in store.query(sql, params, "cohort_attribute_values")]


def _params(project: str, start: datetime, end: datetime) -> dict:
    return {"project": project, "start": start, "end": end}
