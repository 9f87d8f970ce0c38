"""API of the apps' own OTLP metrics: token, request, latency and cost trends from metric points.

Beside the span-derived figures of /metrics/summary and /metrics/timeseries: an app that samples
its traces still exports its GenAI metrics whole, so these stay complete.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, jsonify, request

from dashboard.params import PROJECT, WINDOW, ApiError, choice_arg, project_arg, takes, time_range
from schemas.clickhouse.otel_metrics import (
    BUCKET_SECONDS,
    FILTER_COLUMNS,
    GROUP_COLUMNS,
    MetricsQuery,
    otel_metric_series,
    received_metrics,
)
from schemas.clickhouse.store import Store
from schemas.metadata.store import Metadata

MAX_POINTS = 5000


def create_otel_metrics_blueprint(store: Store, metadata: Metadata) -> Blueprint:
    api = Blueprint("otel_metrics_api", __name__, url_prefix="/api/v1")

    @api.get("/metrics/otel")
    @takes(PROJECT, WINDOW, ("bucket", "group_by"), FILTER_COLUMNS)
    def otel_metrics() -> Any:
        query = metrics_query(metadata)
        names = received_metrics(store, query.project, query.start, query.end)
        return jsonify({"project": query.project, "from": query.start.isoformat(), "to": query.end.isoformat(),
                        "bucket": query.bucket, "group_by": query.group_by, "metrics": names,
                        **otel_metric_series(store, query)})

    return api


def metrics_query(metadata: Metadata) -> MetricsQuery:
    """The request's project, window (a day by default), bucket and grouping; 400 naming a bad field."""
    project = project_arg(metadata)
    start, end = time_range(timedelta(days=1))
    bucket = choice_arg("bucket", BUCKET_SECONDS, "hour") or "hour"
    if (end - start).total_seconds() / BUCKET_SECONDS[bucket] > MAX_POINTS:
        raise ApiError(400, f"bucket={bucket} over this range gives more than {MAX_POINTS} points; "
                            "use a larger bucket or a shorter range")
    filters = {name: request.args[name] for name in FILTER_COLUMNS if request.args.get(name)}
    return MetricsQuery(project, start, end, bucket, choice_arg("group_by", GROUP_COLUMNS, None), filters)
