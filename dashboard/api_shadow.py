"""GET /api/v1/shadow: shadow calls paired with their primaries, per (primary model, candidate model)
(issue #23, "Shadow mode"). Counts and deltas come from ClickHouse over every pair; agreement and
the most divergent pairs from a bounded sample of answers, scored here (`evals.shadow_report`: a
word-set similarity, no SciPy, so the UI process stays light)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, jsonify

from dashboard.params import DIMENSION_FILTERS, PROJECT, WINDOW, filter_args, int_arg, project_arg, takes, time_range
from evals.shadow_report import build_report
from schemas.clickhouse import shadow
from schemas.clickhouse.rollup import MarkReader
from schemas.clickhouse.shadow_pairs import held_pairs
from schemas.clickhouse.store import Store
from schemas.metadata.runs import StateStore
from schemas.metadata.store import Metadata

SHADOW_PARAMS = ("sample", "divergent", "unpaired_limit")


def create_shadow_blueprint(store: Store, metadata: Metadata) -> Blueprint:
    api = Blueprint("shadow_api", __name__, url_prefix="/api/v1")
    state = StateStore(metadata)

    @api.get("/shadow")
    @takes(PROJECT, WINDOW, DIMENSION_FILTERS, SHADOW_PARAMS)  # the pairs keep no failure signal
    def shadow_report() -> Any:
        project = project_arg(metadata)
        start, end = time_range(timedelta(days=7))
        filters = filter_args()  # of the shadow (candidate) span
        sample = int_arg("sample", 200, 1, 2000)  # shadow calls per candidate model whose answers are compared
        divergent, limit = int_arg("divergent", 10, 0, 100), int_arg("unpaired_limit", 100, 0, 1000)
        report = read_report(store, state, project, start, end, filters, sample=sample, divergent=divergent,
                             limit=limit)
        return jsonify({"project": project, "from": start.isoformat(), "to": end.isoformat(),
                        "filters": filters, **report})

    return api


def read_report(store: Store, marks: MarkReader, project: str, start: datetime, end: datetime,
                filters: Mapping[str, str], *, sample: int = 200, divergent: int = 10,
                limit: int = 100) -> dict[str, Any]:
    """The report the API answers; the Shadow page calls it too, so both show the same figures.
    `marks` say which hours the pairs table holds (the rest is paired from raw spans)."""
    held = held_pairs(marks)
    rows = shadow.pair_totals(store, project, start, end, filters, held)
    totals = [row for row in rows if row["primary_model"] is not None]
    unpaired_total = sum(row["pairs"] for row in rows if row["primary_model"] is None)
    pairs = shadow.sampled_pairs(store, project, start, end, filters, sample, held) if totals else []
    unpaired = shadow.unpaired(store, project, start, end, filters, limit, held) if unpaired_total and limit else []
    return build_report(totals, pairs, unpaired, unpaired_total, divergent)
