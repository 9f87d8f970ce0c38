"""Cost reads for the Costs page: metrics over a whole window, one row per group, in one query.

Both go through `schemas.clickhouse.metrics.grouped_values`, which reads the same state rows as the overview
and the alert rules (rollup for whole minutes, raw deduplicated calls for the rest), so the
figures agree with them to the cent.
"""

from __future__ import annotations

from typing import Any

from schemas.clickhouse.metrics import RollupSpan, SeriesQuery, grouped_values
from schemas.clickhouse.store import Store

# Columns of a spend table; `cost_total` first because rows are ranked by it.
COST_METRICS = ("cost_total", "requests", "cost_per_request", "unpriced_requests")
DEFAULT_LIMIT = 50


def cost_by_group(store: Store, q: SeriesQuery, rollup: RollupSpan | None,
                  limit: int = DEFAULT_LIMIT) -> list[dict[str, Any]]:
    """The `limit` costliest groups of `q.group_by` over the window, with `q.metrics` for each."""
    return grouped_values(store, q, rollup, order="`cost_total` DESC, `requests` DESC, key", limit=limit,
                          tag="costs_by_group")


def unpriced_models(store: Store, q: SeriesQuery, rollup: RollupSpan | None,
                    limit: int = DEFAULT_LIMIT) -> list[dict[str, Any]]:
    """Models with calls the price book could not price (cost NULL), most such calls first."""
    grouped = SeriesQuery(q.project, ("unpriced_requests", "requests"), q.start, q.end, group_by="model",
                          filters=q.filters)
    return grouped_values(store, grouped, rollup, having="HAVING `unpriced_requests` > 0",
                          order="`unpriced_requests` DESC, key", limit=limit, tag="costs_unpriced_models")
