"""OTLP metrics into rows: an ExportMetricsServiceRequest (protobuf or OTLP/JSON) in, point rows out.

Apps that sample their traces still export their GenAI client metrics whole, so these points
keep token and latency trends complete. Only GenAI metrics are kept (`gen_ai.*`, which covers
the OTel conventions and OpenLIT's `gen_ai.usage.cost`, and OpenLLMetry's `llm.*`); any other
metric in the same request (an HTTP client's `http.client.duration`) is skipped, not refused.
Points are stored as sent, cumulative or delta: `schemas.clickhouse.otel_metrics` turns
cumulative points into deltas when it reads them, so a redelivered point (same series, start
and time) replaces itself instead of counting twice.

A pure function of the bytes: no Flask, no database.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from collector.check import Rejections
from collector.wire import parse_request, read_attributes

KEPT_PREFIXES = ("gen_ai.", "llm.")
KIND_SUM, KIND_GAUGE, KIND_HISTOGRAM, KIND_EXP_HISTOGRAM = "sum", "gauge", "histogram", "exp_histogram"
_KINDS = {"sum": KIND_SUM, "gauge": KIND_GAUGE, "histogram": KIND_HISTOGRAM,
          "exponential_histogram": KIND_EXP_HISTOGRAM}
_TEMPORALITY = {1: "delta", 2: "cumulative"}
_NO_RECORDED_VALUE = 1  # DataPointFlags.DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK

# Exponential histograms are projected onto this fixed grid at ingest: every exponential bucket's
# count goes to the grid bucket that holds the bucket's geometric midpoint (its zero bucket and
# negative buckets to the first, `<= 0`). The grid steps by a factor √2 from 2^-20 to 2^40, so a
# projected point is only as fine as that (±41 %) or its own scale, whichever is coarser; in
# exchange every point of a series has the same bounds, and cumulative points stay subtractable.
EXP_GRID = (0.0, *(2.0 ** (k / 2) for k in range(-40, 81)))
_GRID_OFFSET = 41  # the index of 2^(k/2) in EXP_GRID is k + 41

MODEL_KEYS = ("gen_ai.request.model", "gen_ai.response.model", "llm.request.model", "llm.response.model")
PROVIDER_KEYS = ("gen_ai.provider.name", "gen_ai.system")
DEDICATED_KEYS = frozenset({*MODEL_KEYS, *PROVIDER_KEYS, "gen_ai.operation.name", "gen_ai.token.type",
                            "error.type"})
POINT_COLUMNS = (
    "project_id", "name", "unit", "kind", "temporality", "monotonic", "service", "model", "provider",
    "operation", "token_type", "error_type", "attributes", "series_key", "start_ns", "time_ns", "count",
    "sum", "min", "max", "value", "bounds", "bucket_counts",
)


@dataclass(frozen=True)
class MetricPoints:
    """The rows of the kept points, how many points of other metrics were skipped, what was refused."""

    rows: list[dict[str, Any]]
    skipped: int = 0
    rejected: int = 0
    reasons: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Series:
    """What every point of one metric shares: its project, name, unit, kind, temporality, origin."""

    project: str
    name: str
    unit: str
    kind: str
    temporality: str
    monotonic: bool
    service: str
    identity: str  # resource + scope + metric, the start of each point's series key


def decode_metric_points(body: bytes, content_type: str, project: str) -> MetricPoints:
    """Rows for the GenAI points of an (already decompressed) metrics body; raises DecodeError."""
    request = parse_request(body, content_type, ExportMetricsServiceRequest())
    rows: list[dict[str, Any]] = []
    rejections = Rejections()
    skipped = 0
    for resource_metrics in request.resource_metrics:
        resource = read_attributes(resource_metrics.resource.attributes)
        for scope_metrics in resource_metrics.scope_metrics:
            scope = scope_metrics.scope
            origin = _stable_json([resource, scope.name, scope.version])
            for metric in scope_metrics.metrics:
                if not is_kept_metric(metric.name) or metric.WhichOneof("data") not in _KINDS:
                    skipped += count_points(metric)  # other metrics, and summaries (no buckets to merge)
                    continue
                _add_metric_rows(rows, rejections, metric, _series(project, metric, resource, origin))
    return MetricPoints(rows, skipped, rejections.count, rejections.reasons)


def is_kept_metric(name: str) -> bool:
    return name.startswith(KEPT_PREFIXES)


def count_points(metric: Any) -> int:
    kind = metric.WhichOneof("data")
    return len(getattr(metric, kind).data_points) if kind else 0


def _series(project: str, metric: Any, resource: dict[str, Any], origin: str) -> _Series:
    data_kind = metric.WhichOneof("data") or ""
    data = getattr(metric, data_kind) if data_kind else None
    temporality = _TEMPORALITY.get(getattr(data, "aggregation_temporality", 0), "")
    service = resource.get("service.name")
    return _Series(project, metric.name, metric.unit, _KINDS.get(data_kind, data_kind), temporality,
                   bool(getattr(data, "is_monotonic", False)), service if isinstance(service, str) else "",
                   f"{origin}|{metric.name}")


def _add_metric_rows(rows: list[dict[str, Any]], rejections: Rejections, metric: Any, series: _Series) -> None:
    for point in getattr(metric, metric.WhichOneof("data")).data_points:
        problem = _point_problem(point, series.kind)
        if problem:
            rejections.add(f"metric {metric.name!r}: {problem}")
        elif not point.flags & _NO_RECORDED_VALUE:
            rows.append(_point_row(point, series))


def _point_problem(point: Any, kind: str) -> str:
    if not point.time_unix_nano:
        return "data point without timeUnixNano"
    if kind == KIND_HISTOGRAM and point.bucket_counts and len(point.bucket_counts) != len(point.explicit_bounds) + 1:
        return (f"histogram point with {len(point.bucket_counts)} bucket counts for "
                f"{len(point.explicit_bounds)} bounds (needs bounds + 1)")
    if kind in (KIND_SUM, KIND_GAUGE) and not math.isfinite(_number(point)):
        return "data point value is not a finite number"
    return ""


def _point_row(point: Any, series: _Series) -> dict[str, Any]:
    attributes = read_attributes(point.attributes)
    row = {
        "project_id": series.project, "name": series.name, "unit": series.unit, "kind": series.kind,
        "temporality": series.temporality, "monotonic": series.monotonic, "service": series.service,
        "model": _first_text(attributes, MODEL_KEYS), "provider": _first_text(attributes, PROVIDER_KEYS),
        "operation": _first_text(attributes, ("gen_ai.operation.name",)),
        "token_type": _first_text(attributes, ("gen_ai.token.type",)),
        "error_type": _first_text(attributes, ("error.type",)),
        "attributes": {k: _text(v) for k, v in attributes.items() if k not in DEDICATED_KEYS},
        "series_key": _series_key(series.identity, attributes),
        "start_ns": point.start_time_unix_nano, "time_ns": point.time_unix_nano,
        "count": 0, "sum": 0.0, "min": None, "max": None, "value": 0.0, "bounds": [], "bucket_counts": [],
    }
    row.update(_values(point, series.kind))
    return row


def _values(point: Any, kind: str) -> dict[str, Any]:
    if kind in (KIND_SUM, KIND_GAUGE):
        return {"value": _number(point)}
    extremes = {"min": point.min if point.HasField("min") else None,
                "max": point.max if point.HasField("max") else None}
    if kind == KIND_HISTOGRAM:
        return {"count": point.count, "sum": point.sum, **extremes,
                "bounds": list(point.explicit_bounds), "bucket_counts": list(point.bucket_counts)}
    return {"count": point.count, "sum": point.sum, **extremes, "bounds": list(EXP_GRID),
            "bucket_counts": project_exponential(point)}


def project_exponential(point: Any) -> list[int]:
    """An exponential histogram point's counts on EXP_GRID (see its comment for the approximation)."""
    counts = [0] * (len(EXP_GRID) + 1)
    counts[0] += point.zero_count + sum(point.negative.bucket_counts)
    step = 2.0 ** -point.scale  # a bucket's width in log2: bucket i holds (2^(i·step), 2^((i+1)·step)]
    offset = point.positive.offset
    for i, count in enumerate(point.positive.bucket_counts):
        if count:
            counts[_grid_index((offset + i + 0.5) * step)] += count
    return counts


def _grid_index(log2_value: float) -> int:
    """The EXP_GRID bucket of 2^log2_value, worked out in log2 (exact, where comparing powers would
    not be): bucket i holds (EXP_GRID[i-1], EXP_GRID[i]], and EXP_GRID[k + 41] = 2^(k/2)."""
    return min(max(math.ceil(2 * log2_value) + _GRID_OFFSET, 1), len(EXP_GRID))


def _number(point: Any) -> float:
    return float(point.as_int) if point.WhichOneof("value") == "as_int" else float(point.as_double)


def _first_text(attributes: dict[str, Any], keys: tuple[str, ...]) -> str:
    for key in keys:
        value = attributes.get(key)
        if value not in (None, ""):
            return _text(value)
    return ""


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _series_key(identity: str, attributes: dict[str, Any]) -> str:
    """Resource, scope, metric and point attributes: what makes two points one series."""
    text = f"{identity}|{_stable_json(attributes)}"
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()


def _stable_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)
