"""API of the Costs page's tables: spend by a dimension, and the models with calls the price book could
not price, under the page's window and filters; `format=csv` downloads one table (`table=`).

The page and this API read the same functions (`schemas.clickhouse.cost_queries`), so a download
holds what the page shows, and more groups when asked (`limit=`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, jsonify

from dashboard.csv_export import FORMAT, csv_response, wants_csv
from dashboard.params import (
    FILTERS,
    PROJECT,
    SHADOW,
    WINDOW,
    choice_arg,
    filter_args,
    int_arg,
    project_arg,
    shadow_arg,
    takes,
    time_range,
)
from schemas.clickhouse.cost_queries import COST_METRICS, DEFAULT_LIMIT, cost_by_group, unpriced_models
from schemas.clickhouse.filters import DIMENSIONS
from schemas.clickhouse.metrics import SeriesQuery
from schemas.clickhouse.rollup import current_rollup
from schemas.clickhouse.store import Store
from schemas.metadata.runs import StateStore
from schemas.metadata.store import Metadata

MAX_GROUPS = 1000
CSV_GROUPS = MAX_GROUPS  # a download, unless `limit=` says otherwise, has every group up to the bound
TABLES = ("groups", "unpriced")  # which table a CSV holds
_COLUMNS = {"groups": ("key", *COST_METRICS), "unpriced": ("key", "unpriced_requests", "requests")}


def create_costs_blueprint(store: Store, metadata: Metadata) -> Blueprint:
    api = Blueprint("costs_api", __name__, url_prefix="/api/v1")
    state = StateStore(metadata)

    @api.get("/costs")
    @takes(PROJECT, WINDOW, FILTERS, SHADOW, ("by", "limit", "table"), FORMAT)
    def costs() -> Any:
        csv_wanted = wants_csv()
        project = project_arg(metadata)
        start, end = time_range(timedelta(days=1))
        by = choice_arg("by", DIMENSIONS, "model") or "model"
        table = choice_arg("table", TABLES, None)  # the JSON answer has both when none is asked for
        limit = int_arg("limit", CSV_GROUPS if csv_wanted else DEFAULT_LIMIT, 1, MAX_GROUPS)
        q = SeriesQuery(project, COST_METRICS, start, end, group_by=by, filters=filter_args(), shadow=shadow_arg())
        rollup = current_rollup(store, state, project, start, end)  # late calls counted at once
        read = {"groups": cost_by_group, "unpriced": unpriced_models}
        if csv_wanted:
            table = table or "groups"
            name = f"llmpulse-costs-by-{by}-{project}" if table == "groups" else f"llmpulse-unpriced-models-{project}"
            return csv_response(name, _COLUMNS[table], read[table](store, q, rollup, limit))
        tables = {name: read[name](store, q, rollup, limit) for name in TABLES if table in (None, name)}
        return jsonify({"project": project, "from": start.isoformat(), "to": end.isoformat(), "by": by,
                        "filters": q.filters, "shadow": q.shadow, "limit": limit, **tables})

    return api
