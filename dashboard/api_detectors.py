"""API of the detectors: metric time series, on-demand runs and the run history."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from dashboard.params import (
    FILTERS,
    PROJECT,
    SHADOW,
    WINDOW,
    ApiError,
    bucketed_range,
    choice_arg,
    filter_args,
    int_arg,
    json_body,
    project_arg,
    shadow_arg,
    takes,
)
from detectors.runner import DetectorRunner, UnknownDetector
from schemas.clickhouse.metrics import BUCKETS, DIMENSIONS, METRICS, SeriesQuery, timeseries
from schemas.clickhouse.rollup import current_rollup
from schemas.clickhouse.store import Store
from schemas.metadata.runs import RunLog, StateStore
from schemas.metadata.store import Metadata

_BUCKET_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def create_detectors_blueprint(store: Store, metadata: Metadata, runner: DetectorRunner | None) -> Blueprint:
    api = Blueprint("detectors_api", __name__, url_prefix="/api/v1")
    state = StateStore(metadata)

    @api.get("/metrics/timeseries")
    @takes(PROJECT, WINDOW, FILTERS, ("metric", "metrics", "bucket", "group_by"), SHADOW)
    def metrics_timeseries() -> Any:
        query = series_query(metadata)
        rollup = current_rollup(store, state, query.project, query.start, query.end)  # late calls counted at once
        return jsonify({"project": query.project, "from": query.start.isoformat(), "to": query.end.isoformat(),
                        "shadow": query.shadow, **timeseries(store, query, rollup)})

    @api.post("/detectors/run")
    @takes()
    def run_detectors() -> Any:
        names = _detector_names(json_body() if request.data else {})
        try:
            outcomes = _require(runner).run_many(names)
        except UnknownDetector as exc:
            raise ApiError(400, exc.args[0]) from None
        return jsonify({"runs": [o.to_json() for o in outcomes]})

    @api.get("/detectors/runs")
    @takes(("detector", "limit"))  # runs are of the whole service, not of a project
    def detector_runs() -> Any:
        detector = request.args.get("detector")
        runs = RunLog(metadata).recent(detector, int_arg("limit", 50, 1, 1000))  # shared: any process can list
        return jsonify({"runs": [r.to_json() for r in runs]})

    return api


def series_query(metadata: Metadata) -> SeriesQuery:
    project = project_arg(metadata)
    start, end, bucket = bucketed_range({name: _BUCKET_SECONDS[name] for name in BUCKETS})
    return SeriesQuery(project, _metric_names(), start, end, bucket,
                       choice_arg("group_by", DIMENSIONS, None), filter_args(), shadow_arg())


def _metric_names() -> tuple[str, ...]:
    raw = request.args.get("metric") or request.args.get("metrics") or ""
    names = tuple(n.strip() for n in raw.split(",") if n.strip())
    if not names:
        raise ApiError(400, f"metric= is required; one or more (comma-separated) of: {', '.join(METRICS)}")
    unknown = [n for n in names if n not in METRICS]
    if unknown:
        raise ApiError(400, f"unknown metric {', '.join(unknown)}; known: {', '.join(METRICS)}")
    return names


def _detector_names(body: dict[str, Any]) -> list[str] | None:
    names = body.get("detectors")
    if names is None:
        return None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ApiError(400, '"detectors" must be a list of detector names')
    return names


def _require(runner: DetectorRunner | None) -> DetectorRunner:
    if runner is None:
        raise ApiError(503, "detectors do not run in this process; use the one running `llmpulse detectors`")
    return runner
