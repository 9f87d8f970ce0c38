"""API of answer quality: hallucination rate with its interval, flagged spans, scores, drift events."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import Blueprint, jsonify, request

from dashboard.params import (
    FILTERS,
    PROJECT,
    WINDOW,
    ApiError,
    choice_arg,
    filter_args,
    int_arg,
    json_body,
    project_arg,
    takes,
    time_range,
)
from detectors.scoring.interval import rate_with_interval
from evals.cohort_keys import FIELD as COHORT_KEYS
from evals.cohort_keys import parse_cohort_keys
from evals.experiment_request import Limits, RequestError
from evals.regression_settings import FIELDS as REGRESSION_FIELDS
from evals.regression_settings import RegressionSettings, parse_settings
from evals.regression_settings import given as regression_given
from schemas.clickhouse.evaluations import evaluation_key, flagged_spans, insert_evaluations, span_facts
from schemas.clickhouse.quality import QUALITY_GROUPS, SOURCE_APP, drift_events, hallucination_counts
from schemas.clickhouse.store import Store
from schemas.cohort_keys import declared_keys, stored_keys
from schemas.metadata.alert_store import channel_ids
from schemas.metadata.datasets import DatasetStore
from schemas.metadata.models import COST_PREFERENCES, Project
from schemas.metadata.regression import RegressionSet, RegressionStore
from schemas.metadata.store import Metadata
from schemas.times import iso_utc

SCORE_FIELDS = ("trace_id", "span_id", "name", "value", "label", "comment", "source", "id")
SCORE_SOURCES = ("app", "feedback")
# What a regression target may ask for where no experiment service runs: no key variable at all.
NO_SERVICE_LIMITS = Limits(max_concurrency=32)
_HEX = set("0123456789abcdef")


def create_quality_blueprint(store: Store, metadata: Metadata,
                             limits: Callable[[], Limits] | None = None) -> Blueprint:
    """`limits`: what an experiment (so a regression target) may ask for, from the experiment service
    (without one no key variable is allowed)."""
    limits = limits or (lambda: NO_SERVICE_LIMITS)
    api = Blueprint("quality_api", __name__, url_prefix="/api/v1")
    regression = RegressionStore(metadata)

    @api.get("/quality/hallucination")
    @takes(PROJECT, WINDOW, FILTERS, ("group_by",))
    def hallucination() -> Any:
        project = project_arg(metadata)
        start, end = time_range(timedelta(days=7))
        group_by = choice_arg("group_by", QUALITY_GROUPS, None)
        rows = hallucination_counts(store, project, start, end, group_by, filters=filter_args())
        total = rate_with_interval(sum(r["flagged"] for r in rows), sum(r["sampled"] for r in rows))
        return jsonify({"project": project, "from": start.isoformat(), "to": end.isoformat(), "group_by": group_by,
                        "groups": [_rate_json(r["key"], rate_with_interval(r["flagged"], r["sampled"])) for r in rows],
                        "total": _rate_json("", total)})

    @api.get("/quality/flagged")
    @takes(PROJECT, WINDOW, FILTERS, ("limit",))
    def flagged() -> Any:
        project = project_arg(metadata)
        start, end = time_range(timedelta(days=7))
        rows = flagged_spans(store, project, start, end, int_arg("limit", 50, 1, 500), filter_args())
        return jsonify({"spans": [{**r, "span_time": iso_utc(r["span_time"])} for r in rows]})

    @api.post("/scores")
    @takes(PROJECT)
    def post_score() -> Any:
        project = project_arg(metadata)
        row = score_row(store, project, json_body())
        insert_evaluations(store, [row])
        return jsonify({"id": row["evaluation_id"], "trace_id": row["trace_id"], "span_id": row["span_id"]}), 201

    @api.get("/projects/<name>")
    @takes()
    def get_project(name: str) -> Any:
        project = metadata.get_project(name)
        if project is None:
            raise ApiError(404, f"project {name!r} does not exist")
        return jsonify(project_json(project, regression.get_set(name)))

    @api.put("/projects/<name>")
    @takes()
    def update_project(name: str) -> Any:
        if metadata.get_project(name) is None:
            raise ApiError(404, f"project {name!r} does not exist")
        body = json_body()
        unknown = sorted(set(body) - set(PROJECT_FIELDS))
        if unknown:
            raise ApiError(400, f"unknown field {unknown[0]!r}; accepted: {', '.join(PROJECT_FIELDS)}")
        settings = checked_regression(metadata, name, body, limits())  # before anything is stored
        keys = _cohort_keys_arg(body[COHORT_KEYS]) if COHORT_KEYS in body else None
        project = metadata.update_project(name, eval_sample_rate=_rate_arg(body.get("eval_sample_rate")),
                                          retention_days=_days_arg(body.get("retention_days")),
                                          cost_preference=_preference_arg(body.get("cost_preference")))
        if COHORT_KEYS in body:
            project = metadata.set_cohort_keys(name, stored_keys(keys))
        if settings is not None:
            regression.save_set(name, settings.dataset, settings.targets, settings.min_pass_rate, settings.channels)
        return jsonify(project_json(project, regression.get_set(name)))

    @api.get("/drift")
    @takes(PROJECT, WINDOW, ("model", "provider", "kind"))  # an event is of a model: no service, user, tag…
    def drift() -> Any:
        project = project_arg(metadata)
        start, end = time_range(timedelta(days=30))
        return jsonify(drift_events(store, project, start, end, request.args.get("model"),  # a bare list: the contract
                                    choice_arg("kind", ("model_change", "behaviour"), None),
                                    request.args.get("provider")))

    return api


# What PUT /projects/<name> sets; the regression set's fields are evals.regression_settings'.
PROJECT_FIELDS = ("eval_sample_rate", "retention_days", "cost_preference", COHORT_KEYS, *REGRESSION_FIELDS)


def project_json(project: Project, regression: RegressionSet | None) -> dict[str, Any]:
    """A project's settings as GET /projects and PUT /projects/<name> answer them."""
    empty = {"regression_dataset": None, "regression_targets": {}, "regression_min_pass_rate": None,
             "regression_channels": None}
    return {"name": project.name, "created_at": project.created_at.isoformat(),
            "eval_sample_rate": project.eval_sample_rate, "retention_days": project.retention_days,
            "cost_preference": project.cost_preference, COHORT_KEYS: list(declared_keys(project.cohort_keys)),
            **(regression.to_json() if regression else empty)}


def checked_regression(metadata: Metadata, project: str, body: dict[str, Any],
                       limits: Limits) -> RegressionSettings | None:
    """The regression set this request leaves, checked (fields, dataset, channels); None when the
    request does not touch it."""
    if not regression_given(body):
        return None
    stored = RegressionStore(metadata).get_set(project)
    current = stored and RegressionSettings(stored.dataset, stored.targets, stored.min_pass_rate, stored.channels)
    try:
        settings = parse_settings(body, current, limits)
    except RequestError as exc:
        raise ApiError(400, str(exc)) from None
    if settings.dataset is not None and settings.dataset not in {
            d["name"] for d in DatasetStore(metadata).list_datasets(project)}:
        raise ApiError(400, f"regression_dataset: no dataset {settings.dataset!r} in project {project!r}; "
                            "create it first (POST /api/v1/datasets)")
    unknown = sorted(set(settings.channels or ()) - channel_ids(metadata, project))
    if unknown:
        raise ApiError(400, f"regression_channels: no channel {unknown[0]} in project {project!r}")
    return settings


def _rate_json(key: str, rate: Any) -> dict[str, Any]:
    return {"key": key, "sampled": rate.sampled, "flagged": rate.flagged,
            "rate": rate.rate if rate.sampled else None, "ci_low": rate.ci_low, "ci_high": rate.ci_high}


def _rate_arg(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ApiError(400, "eval_sample_rate must be a number from 0 to 1 (0.1 scores 10% of LLM calls), "
                            f"got {value!r}")
    return float(value)


def _preference_arg(value: Any) -> str | None:
    if value is None or value in COST_PREFERENCES:
        return value
    raise ApiError(400, f"cost_preference must be {' or '.join(map(repr, COST_PREFERENCES))} (which cost counts "
                        f"when an app reports its own: ours at list or override price, or the app's), got {value!r}")


def _cohort_keys_arg(value: Any) -> list[str] | None:
    try:
        return parse_cohort_keys(value)
    except RequestError as exc:
        raise ApiError(400, str(exc)) from None


def _days_arg(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 3650:
        raise ApiError(400, f"retention_days must be a whole number of days from 1 to 3650, got {value!r}")
    return value


def score_row(store: Store, project: str, body: dict[str, Any]) -> dict[str, Any]:
    """An app's score or a user's feedback on a trace (or one span of it), as an evaluation row."""
    unknown = sorted(set(body) - set(SCORE_FIELDS))
    if unknown:
        raise ApiError(400, f"unknown field {unknown[0]!r}; accepted: {', '.join(SCORE_FIELDS)}")
    trace_id, span_id = _hex_id(body.get("trace_id"), 32, "trace_id"), body.get("span_id")
    span_id = _hex_id(span_id, 16, "span_id") if span_id is not None else None
    name, value, label = _score_name(body.get("name")), _score_value(body.get("value")), _label(body.get("label"))
    if value is None and not label:
        raise ApiError(400, "give a numeric value (e.g. 1 for thumbs up, 0 for down) or a label")
    source = body.get("source", "app")
    if source not in SCORE_SOURCES:
        raise ApiError(400, f"source must be one of {', '.join(SCORE_SOURCES)}, got {source!r}")
    facts = span_facts(store, project, trace_id, span_id)
    if facts is None:
        raise ApiError(404, f"no span {span_id or '(LLM call)'} in trace {trace_id} of project {project!r}; "
                            "send the score after the trace's spans")
    identity = str(body.get("id") or hashlib.sha1(f"{name}|{source}".encode(), usedforsecurity=False).hexdigest())
    return {
        "project_id": project, "trace_id": trace_id, "span_id": facts["span_id"],
        "evaluation_id": evaluation_key(identity), "scorer": f"{source}:{name}", "name": name, "score": value,
        "label": label, "reason": str(body.get("comment") or "")[:4000], "hallucinated": _hallucinated(name, label),
        "request_model": facts["request_model"], "span_time": facts["start_time"], "source": SOURCE_APP,
        "cost": None, "input_tokens": 0, "output_tokens": 0, "error": "",
    }


def _hex_id(value: Any, length: int, field: str) -> str:
    text = value.lower() if isinstance(value, str) else ""
    if len(text) != length or not set(text) <= _HEX:
        raise ApiError(400, f"{field} must be {length} hex characters, got {value!r}")
    return text


def _score_name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 100:
        raise ApiError(400, 'name is required: what was scored, e.g. "user_feedback" or "hallucination"')
    return value.strip()


def _score_value(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return float(value)
    if not isinstance(value, int | float) or not math.isfinite(value):
        raise ApiError(400, f"value must be a finite number, got {value!r}")
    return float(value)


def _label(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > 100:
        raise ApiError(400, "label must be a short text, e.g. \"correct\" or \"hallucinated\"")
    return value.strip()


_FLAGS = {"hallucinated": True, "hallucination": True, "ungrounded": True, "incorrect": True, "fail": True,
          "grounded": False, "correct": False, "pass": False, "not_hallucinated": False}


def _hallucinated(name: str, label: str) -> bool | None:
    """A score counts towards the hallucination rate only when its name says it measures that."""
    if not any(word in name.lower() for word in ("hallucinat", "grounded", "faithful", "factual")):
        return None
    return _FLAGS.get(label.lower())
