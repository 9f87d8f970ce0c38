"""API of the apps' own OTLP metrics: token, request, latency and cost trends from metric points.

Beside the span-derived figures of /metrics/summary and /metrics/timeseries: an app that samples
its traces still exports its GenAI metrics whole, so these stay complete.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from dashboard.params import PROJECT, WINDOW, bucketed_range, choice_arg, project_arg, takes
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
    start, end, bucket = bucketed_range(BUCKET_SECONDS)
    filters = {name: request.args[name] for name in FILTER_COLUMNS if request.args.get(name)}
    return MetricsQuery(project, start, end, bucket, choice_arg("group_by", GROUP_COLUMNS, None), filters)
