"""Many scopes of one window in one read: what the guards' tick reads (detectors.alerts.guard_eval).

Beside `metrics.window_values` (one scope a query) and built from the same state rows (rollup
minutes and hours, raw calls outside them, shadow calls split alike), so a scope answers here
exactly as it does there; a test holds the two side by side.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from schemas.clickhouse.filters import DIMENSIONS
from schemas.clickhouse.metrics import METRICS, ROLLUP_DIMENSIONS, RollupSpan, SeriesQuery
from schemas.clickhouse.metrics import _number as number
from schemas.clickhouse.metrics import _params as query_params
from schemas.clickhouse.metrics import _state_rows as state_rows
from schemas.clickhouse.store import Store


def scoped_window_values(store: Store, q: SeriesQuery, scopes: Sequence[Mapping[str, str]],
                         rollup: RollupSpan | None) -> list[dict[str, Any]]:
    """Each metric of `q.metrics` over the whole window for each scope (a set of filters), in one query
    (guards: many scopes of one window cost one scan, not one each). Each state row carries the
    indices of the scopes it belongs to, ARRAY JOINed and grouped. `q.filters` apply to every scope;
    a scope on a dimension the rollup lacks makes the read raw; `tag` scopes are not taken here."""
    if any("tag" in scope for scope in scopes):
        raise ValueError("a tag scope is read alone (window_values): a call holds several tags")
    params = query_params(q)
    conditions = []
    for i, scope in enumerate(scopes):
        params.update({f"s{i}_{name}": value for name, value in scope.items()})
        conditions.append(" AND ".join(f"c.{DIMENSIONS[n]} = {{s{i}_{n}:String}}" for n in scope) or "true")
    key = f"arrayFilter(i -> [{', '.join(f'({c})' for c in conditions)}][i], range(1, {len(scopes) + 1}))"
    raw = any(set(scope) - set(ROLLUP_DIMENSIONS) for scope in scopes)
    values = ", ".join(f"{METRICS[m]} AS `{m}`" for m in q.metrics)
    states = state_rows(q, key, None if raw else rollup, params)
    sql = f"SELECT scope, {values} FROM ({states}) AS r ARRAY JOIN r.key AS scope GROUP BY scope"
    found = {row["scope"]: row for row in store.query_dicts(sql, params, "metrics_scoped_window")}
    return [{m: number(found[i + 1][m]) if i + 1 in found else None for m in q.metrics} for i in range(len(scopes))]
