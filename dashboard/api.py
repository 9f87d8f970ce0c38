"""The JSON read API on the UI port; the dashboard pages are built on the same functions."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from flask import Blueprint, Flask, jsonify, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import HTTPException

from dashboard import params
from dashboard.api_alerts import create_alerts_blueprint
from dashboard.api_annotations import create_annotations_blueprint
from dashboard.api_cohorts import create_cohorts_blueprint
from dashboard.api_compare import create_compare_blueprint
from dashboard.api_conversations import create_conversations_blueprint
from dashboard.api_costs import create_costs_blueprint
from dashboard.api_datasets import create_datasets_blueprint
from dashboard.api_detectors import create_detectors_blueprint
from dashboard.api_experiments import create_experiments_blueprint
from dashboard.api_guards import create_guards_blueprint
from dashboard.api_otel_metrics import create_otel_metrics_blueprint
from dashboard.api_quality import create_quality_blueprint, project_json
from dashboard.api_shadow import create_shadow_blueprint
from dashboard.api_slos import create_slos_blueprint
from dashboard.auth import install_login
from dashboard.cost_comparison import cost_comparison
from dashboard.csv_export import (
    CSV_MAX_ROWS,
    FORMAT,
    csv_response,
    truncation_headers,
    wants_csv,
)
from dashboard.guard_cache import GuardCache
from dashboard.message_merge import merge_carried
from dashboard.params import (
    FILTERS,
    PROJECT,
    SHADOW,
    WINDOW,
    ApiError,
    alias_arg,
    check_query,
    choice_arg,
    filter_args,
    int_arg,
    shadow_arg,
    takes,
    time_range,
)
from dashboard.prometheus.endpoint import PrometheusSettings, install_metrics
from dashboard.throttle import LoginThrottle
from dashboard.ui.context import UiContext
from detectors.alerts.service import Alerting
from detectors.runner import DetectorRunner
from evals.service import ExperimentService
from schemas.clickhouse import queries
from schemas.clickhouse.conversations import trace_totals
from schemas.clickhouse.evaluations import trace_evaluations
from schemas.clickhouse.store import Store
from schemas.health import add_health_routes
from schemas.hosts import HostPolicy
from schemas.metadata.guard_store import GuardStore
from schemas.metadata.regression import RegressionStore
from schemas.metadata.runs import StateStore
from schemas.metadata.store import Metadata
from schemas.metadata.users import UserStore
from schemas.times import iso_utc

MAX_PAGE = 500
LOCAL_ONLY = HostPolicy(frozenset())  # loopback names only
# The trace list's own parameters; `q` is its text search (`text` the same, as an alias).
TRACE_PARAMS = ("status", "q", "text", "sort", "order", "limit", "offset", "count")
# A trace list row's columns (`queries.list_traces`) in its CSV's order, whatever the sort.
TRACE_COLUMNS = ("trace_id", "start_time", "end_time", "duration_ms", "name", "service_name", "spans", "llm_calls",
                 "errors", "models", "user_id", "session_id", "signals", "tokens", "cost", "unpriced_calls",
                 "cost_exact")


def create_api_blueprint(store: Store, metadata: Metadata) -> Blueprint:
    api = Blueprint("api", __name__, url_prefix="/api/v1")

    def project_arg() -> str:
        return params.project_arg(metadata)

    @api.get("/projects")
    @takes()
    def projects() -> Any:
        sets = {found.project: found for found in RegressionStore(metadata).list_sets()}
        return jsonify({"projects": [project_json(p, sets.get(p.name)) for p in metadata.list_projects()]})

    @api.get("/traces")
    @takes(PROJECT, WINDOW, FILTERS, TRACE_PARAMS, SHADOW, FORMAT)
    def traces() -> Any:
        csv_wanted = wants_csv()
        start, end = time_range(timedelta(days=7))
        flt = queries.TraceFilter(project=project_arg(), start=start, end=end, **filter_args(),
                                  status=choice_arg("status", ("ok", "error"), None), text=alias_arg("q", "text"),
                                  shadow=shadow_arg())
        sort = choice_arg("sort", queries.TRACE_SORTS, "start_time") or "start_time"
        counted = choice_arg("count", ("true", "false"), "true") == "true"  # false: a long window's newest, fast
        order = choice_arg("order", ("asc", "desc"), "desc")
        most = CSV_MAX_ROWS if csv_wanted else MAX_PAGE  # a download takes the window, up to its bound
        page = queries.list_traces(store, flt, limit=int_arg("limit", most if csv_wanted else 50, 1, most),
                                   offset=int_arg("offset", 0, 0, 10_000_000), sort=sort,
                                   descending=order == "desc", count_long_windows=counted)
        if csv_wanted:
            return csv_response(f"llmpulse-traces-{flt.project}", TRACE_COLUMNS,
                                page["traces"], truncation_headers(page["total"], page["offset"], len(page["traces"])))
        return jsonify(page)

    @api.get("/traces/<trace_id>")
    @takes(PROJECT)
    def trace(trace_id: str) -> Any:
        project = project_arg()
        trace_id = trace_id.lower()
        if len(trace_id) != 32 or any(c not in "0123456789abcdef" for c in trace_id):
            raise ApiError(400, f"trace id {trace_id!r} must be 32 hex characters")
        spans = queries.get_trace_spans(store, project, trace_id)
        if not spans:
            raise ApiError(404, f"trace {trace_id} not found in project {project!r}")
        events = queries.get_trace_events(store, project, trace_id)
        scores = trace_scores(store, project, trace_id, spans)
        starts = [span["start_time"] for span in spans]
        totals = trace_totals(store, project, trace_id, min(starts), max(starts))
        return jsonify({"trace_id": trace_id, "project": project, "totals": totals,
                        "spans": assemble_spans(spans, events, scores)})

    @api.get("/metrics/summary")
    @takes(PROJECT, WINDOW, FILTERS, ("group_by",), SHADOW)
    def metrics_summary() -> Any:
        project = project_arg()
        start, end = time_range()
        group_by = choice_arg("group_by", queries.GROUP_KEYS, None)
        filters = filter_args()
        shadow = shadow_arg()
        result = queries.metrics_summary(store, project, start, end, group_by, filters, shadow)
        return jsonify({"project": project, "from": start.isoformat(), "to": end.isoformat(),
                        "group_by": group_by, "filters": filters, "shadow": shadow, **result})

    return api


def assemble_spans(spans: list[dict[str, Any]], events: list[dict[str, Any]],
                   scores: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Span rows as JSON, with messages that arrived as log records and the span's scores attached."""
    by_span, scored = _by_span(events), _by_span(scores or [])
    return [{**_span_json(span, by_span.get(span["span_id"], [])),
             "scores": [_score_json(row) for row in scored.get(span["span_id"], [])]} for span in spans]


def trace_scores(store: Store, project: str, trace_id: str, spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The evaluation rows of a trace's spans, looked up within their start times (where scores are filed)."""
    starts = [span["start_time"] for span in spans]
    return trace_evaluations(store, project, trace_id, min(starts), max(starts))


def _by_span(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        grouped.setdefault(row["span_id"], []).append(row)
    return grouped


def _score_json(row: dict[str, Any]) -> dict[str, Any]:
    return {"scorer": row["scorer"], "name": row["name"], "value": row["score"], "label": row["label"],
            "reason": row["reason"], "source": row["source"], "annotator": row["annotator"] or None,
            "hallucinated": row["hallucinated"], "error": row["error"] or None}


def _span_json(span: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, Any]:
    out = {k: _jsonable(v) for k, v in span.items()}
    for name in ("input_messages", "output_messages", "retrieval_documents", "events", "links"):
        out[name] = _loads_list(span[name])
    for side in ("input_messages", "output_messages"):
        carried = [message for event in events for message in _loads_list(event[side])]
        out[side] = merge_carried(out[side], carried)
    out["log_events"] = [{"name": e["event_name"], "time": iso_utc(e["time"]), "body": _loads(e["body"])}
                         for e in events]
    out["cost_comparison"] = cost_comparison(span)
    return out


def _loads_list(text: str) -> list[Any]:
    value = _loads(text)
    return value if isinstance(value, list) else []


def _loads(text: str) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return text


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, Decimal):
        return float(value)
    return value


API_PREFIX = "/api/"
DASH_PAGES_RULE = "/<path:path>"  # the route Dash serves its pages from


class UtcJsonProvider(DefaultJSONProvider):
    """A time in an answer is ISO-8601 with its UTC offset, never Flask's HTTP-date default, nor
    offset-less as ClickHouse hands times back (JavaScript would read those as local time)."""

    @staticmethod
    def default(o: Any) -> Any:
        return iso_utc(o) if isinstance(o, datetime) else DefaultJSONProvider.default(o)


@dataclass(frozen=True)
class LoginSettings:
    """Sessions are signed with `secret_key`; `required` off loopback; `hosts` the Host names
    served (see dashboard.auth and schemas.hosts)."""

    secret_key: str
    required: bool
    hosts: HostPolicy = LOCAL_ONLY
    throttle: LoginThrottle | None = None  # None: dashboard.throttle's defaults


def _guard_cache(metadata: Metadata) -> GuardCache:
    """A cache for an app built without the service's (tests): read once, then on each change."""
    cache = GuardCache(GuardStore(metadata))
    cache.refresh()
    return cache


def register_error_handlers(app: Flask) -> None:
    """Every API error is JSON `{"error": message}` with its status."""

    @app.before_request
    def _unknown_api_path() -> None:
        """Dash's page route takes every other path; under /api/ that would answer a typo 200 with HTML."""
        rule = request.url_rule
        if request.path.startswith(API_PREFIX) and rule is not None and rule.rule == DASH_PAGES_RULE:
            raise ApiError(404, f"no API endpoint {request.path}; the README's Read API section lists them")

    @app.before_request
    def _unknown_api_param() -> None:
        """Every API view declares the query parameters it takes (`params.takes`); any other is a 400."""
        if request.path.startswith(API_PREFIX) and request.endpoint in app.view_functions:
            check_query(app.view_functions[request.endpoint])

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Any:
        return jsonify({"error": exc.message}), exc.status

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        return jsonify({"error": exc.description or exc.name}), exc.code or 500


def create_ui_app(store: Store, metadata: Metadata, ready: Callable[[], bool],
                  runner: DetectorRunner | None = None, alerting: Alerting | None = None,
                  login: LoginSettings | None = None, otlp_port: int = 4318,
                  health: Callable[[], dict[str, Any]] = dict, experiments: ExperimentService | None = None,
                  prometheus: PrometheusSettings | None = None, guards: GuardCache | None = None) -> Flask:
    app = Flask("llmpulse.ui")
    app.json = UtcJsonProvider(app)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    login = login or LoginSettings(secrets.token_urlsafe(32), required=False)
    install_login(app, UserStore(metadata), login.secret_key, login.required, login.hosts, login.throttle)
    app.register_blueprint(create_api_blueprint(store, metadata))
    app.register_blueprint(create_detectors_blueprint(store, metadata, runner))
    app.register_blueprint(create_otel_metrics_blueprint(store, metadata))
    app.register_blueprint(create_costs_blueprint(store, metadata))
    limits = (lambda: experiments.limits) if experiments is not None else None
    app.register_blueprint(create_quality_blueprint(store, metadata, limits))
    app.register_blueprint(create_datasets_blueprint(store, metadata))
    app.register_blueprint(create_shadow_blueprint(store, metadata))
    app.register_blueprint(create_cohorts_blueprint(store, metadata))
    app.register_blueprint(create_conversations_blueprint(store, metadata))
    app.register_blueprint(create_compare_blueprint(metadata))  # before /experiments/<name> could take it
    app.register_blueprint(create_experiments_blueprint(metadata, experiments))
    app.register_blueprint(create_annotations_blueprint(store, metadata, login.required))
    if alerting is not None:
        guards = guards or _guard_cache(metadata)
        app.register_blueprint(create_alerts_blueprint(store, metadata, alerting))
        app.register_blueprint(create_guards_blueprint(metadata, alerting, guards))
        app.register_blueprint(create_slos_blueprint(store, metadata, alerting))
    from dashboard.ui.app import create_dash  # Dash is heavy: only UI processes import it

    create_dash(app, UiContext(store, metadata, StateStore(metadata), alerting, login.required, otlp_port,
                               experiments, guards, runner))
    detectors = tuple(runner.names) if runner is not None else ()
    install_metrics(app, store, metadata, detectors, prometheus or PrometheusSettings())
    add_health_routes(app, ready, health)
    register_error_handlers(app)
    return app
