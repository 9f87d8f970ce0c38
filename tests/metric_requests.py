"""Build OTLP metrics requests with chosen points and times, for tests that need exact figures."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    AggregationTemporality,
    Histogram,
    HistogramDataPoint,
    Metric,
    ResourceMetrics,
    ScopeMetrics,
)
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

CUMULATIVE = AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
DELTA = AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA


@dataclass
class Point:
    """One histogram point: its run's start, its time, bucket counts over `bounds` and their sum."""

    start_ns: int
    time_ns: int
    counts: Sequence[int]
    total: float
    attributes: dict[str, str] = field(default_factory=dict)


def histogram(name: str, unit: str, bounds: Sequence[float], points: Sequence[Point],
              temporality: int = CUMULATIVE) -> Metric:
    data_points = [HistogramDataPoint(
        start_time_unix_nano=p.start_ns, time_unix_nano=p.time_ns, count=sum(p.counts), sum=p.total,
        explicit_bounds=list(bounds), bucket_counts=list(p.counts), attributes=attributes(p.attributes),
    ) for p in points]
    return Metric(name=name, unit=unit, histogram=Histogram(data_points=data_points,
                                                            aggregation_temporality=temporality))


def export_metrics(*metrics: Metric, service: str = "svc") -> bytes:
    request = ExportMetricsServiceRequest(resource_metrics=[ResourceMetrics(
        resource=Resource(attributes=attributes({"service.name": service})),
        scope_metrics=[ScopeMetrics(metrics=list(metrics))],
    )])
    return request.SerializeToString()


def attributes(values: dict[str, str]) -> list[KeyValue]:
    return [KeyValue(key=k, value=AnyValue(string_value=v)) for k, v in values.items()]
