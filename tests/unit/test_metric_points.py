"""collector.metric_points: corpus metrics bodies into rows, point for point, and the edge cases."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    ExponentialHistogram,
    ExponentialHistogramDataPoint,
    Gauge,
    Metric,
    NumberDataPoint,
    Summary,
    SummaryDataPoint,
)

from collector.errors import DecodeError
from collector.metric_points import EXP_GRID, decode_metric_points, is_kept_metric, project_exponential
from collector.transport import decompress_body
from tests.corpus import corpus_available, iter_payload_records, labels, needs_corpus
from tests.metric_requests import Point, export_metrics, histogram

PROTOBUF = "application/x-protobuf"


def _cases() -> list[Any]:
    if not corpus_available():
        return []
    return [pytest.param(p, id=f"{label}/{p.name}")
            for label in labels() for p in iter_payload_records(label, "metrics")]


def _points(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(metric["name"], point)
            for rm in document["resourceMetrics"] for sm in rm["scopeMetrics"] for metric in sm["metrics"]
            for data in metric.values() if isinstance(data, dict) for point in data.get("dataPoints", [])]


@needs_corpus
@pytest.mark.parametrize("payload", _cases())
def test_corpus_body_gives_a_row_per_genai_point(payload: Any) -> None:
    body = decompress_body(payload.body, payload.content_encoding, 10**8)
    decoded = decode_metric_points(body, payload.content_type, "p1")
    document = json.loads(payload.decoded_json_path.read_text())
    points = _points(document)
    assert Counter(r["name"] for r in decoded.rows) == Counter(n for n, _ in points if is_kept_metric(n))
    assert decoded.skipped == sum(1 for n, _ in points if not is_kept_metric(n))
    assert decoded.rejected == 0
    tokens = [r for r in decoded.rows if r["name"] == "gen_ai.client.token.usage"]
    assert sum(r["sum"] for r in tokens) == pytest.approx(
        sum(p["sum"] for n, p in points if n == "gen_ai.client.token.usage"))
    assert {r["token_type"] for r in tokens} == {"input", "output"}
    assert all(r["provider"] == "openai" and r["service"].startswith("corpus-") for r in tokens)
    assert all(r["temporality"] == "cumulative" and r["start_ns"] < r["time_ns"] for r in decoded.rows)
    assert len({(r["series_key"], r["start_ns"]) for r in decoded.rows}) == len(decoded.rows)


def test_model_prefers_the_requested_one_and_other_attributes_are_kept() -> None:
    attrs = {"gen_ai.response.model": "gpt-4o-2024-08-06", "gen_ai.request.model": "gpt-4o",
             "gen_ai.system": "openai", "error.type": "RateLimitError", "server.port": "443"}
    body = export_metrics(histogram("gen_ai.client.operation.duration", "s", (1.0,), [Point(1, 2, [1, 0], 0.5, attrs)]))
    (row,) = decode_metric_points(body, PROTOBUF, "p1").rows
    assert (row["model"], row["provider"], row["error_type"]) == ("gpt-4o", "openai", "RateLimitError")
    assert row["attributes"] == {"server.port": "443"}
    assert (row["count"], row["bounds"], row["bucket_counts"], row["kind"]) == (1, [1.0], [1, 0], "histogram")


def test_series_key_tells_series_apart_and_stays_the_same_across_exports() -> None:
    def key(attrs: dict[str, str], time_ns: int, service: str = "svc") -> str:
        body = export_metrics(histogram("gen_ai.client.token.usage", "{token}", (1.0,),
                                        [Point(1, time_ns, [0, 1], 5, attrs)]), service=service)
        return decode_metric_points(body, PROTOBUF, "p1").rows[0]["series_key"]
    same = key({"gen_ai.token.type": "input"}, 10)
    assert key({"gen_ai.token.type": "input"}, 20) == same
    assert len({same, key({"gen_ai.token.type": "output"}, 10), key({"gen_ai.token.type": "input"}, 10, "b")}) == 3


def test_bad_points_are_refused_other_metrics_and_summaries_skipped() -> None:
    bad = histogram("gen_ai.client.operation.duration", "s", (1.0, 2.0),
                    [Point(1, 2, [1], 1.0), Point(1, 0, [1, 0, 0], 1.0)])
    other = histogram("http.client.duration", "ms", (1.0,), [Point(1, 2, [1, 0], 1.0)])
    summary = Metric(name="gen_ai.x", summary=Summary(data_points=[SummaryDataPoint(time_unix_nano=2)]))
    decoded = decode_metric_points(export_metrics(bad, other, summary), PROTOBUF, "p1")
    assert (decoded.rows, decoded.rejected, decoded.skipped) == ([], 2, 2)
    assert any("1 bucket counts for 2 bounds" in r for r in decoded.reasons)
    assert any("without timeUnixNano" in r for r in decoded.reasons)
    with pytest.raises(DecodeError):
        decode_metric_points(b"\xff\xff", PROTOBUF, "p1")


def test_gauge_values_and_no_recorded_value_points() -> None:
    points = [NumberDataPoint(time_unix_nano=5, as_int=7), NumberDataPoint(time_unix_nano=6, as_double=1.0, flags=1)]
    gauge = Metric(name="llm.queue", unit="1", gauge=Gauge(data_points=points))
    (row,) = decode_metric_points(export_metrics(gauge), PROTOBUF, "p1").rows
    assert (row["kind"], row["value"], row["temporality"]) == ("gauge", 7.0, "")


def test_exponential_histogram_is_projected_onto_the_fixed_grid() -> None:
    point = ExponentialHistogramDataPoint(time_unix_nano=5, start_time_unix_nano=1, count=6, sum=9.0, scale=0,
                                          zero_count=1)
    point.positive.offset = 0  # scale 0: bucket i holds (2^i, 2^(i+1)]
    point.positive.bucket_counts.extend([2, 0, 3])  # (1, 2]: 2, (4, 8]: 3
    counts = project_exponential(point)
    assert sum(counts) == 6 and counts[0] == 1
    assert counts[EXP_GRID.index(2.0 ** 0.5)] == 2  # the bucket's midpoint √2: the grid's bucket (1, √2]
    assert counts[EXP_GRID.index(2.0 ** 2.5)] == 3  # midpoint 2^2.5: the grid's bucket (4, 2^2.5]
    metric = Metric(name="gen_ai.client.operation.duration", unit="s",
                    exponential_histogram=ExponentialHistogram(data_points=[point], aggregation_temporality=2))
    (row,) = decode_metric_points(export_metrics(metric), PROTOBUF, "p1").rows
    assert row["kind"] == "exp_histogram" and row["bounds"] == list(EXP_GRID) and row["bucket_counts"] == counts


def test_otlp_json_gives_the_same_rows_as_protobuf() -> None:
    from google.protobuf import json_format
    body = export_metrics(histogram("gen_ai.client.token.usage", "{token}", (1.0,), [Point(1, 2, [0, 1], 5)]))
    as_json = json.dumps(json_format.MessageToDict(ExportMetricsServiceRequest.FromString(body))).encode()
    from_json = decode_metric_points(as_json, "application/json", "p1").rows
    assert from_json == decode_metric_points(body, PROTOBUF, "p1").rows


def test_rows_have_every_column() -> None:
    from collector.metric_points import POINT_COLUMNS
    body = export_metrics(histogram("gen_ai.client.token.usage", "{token}", (1.0,), [Point(1, 2, [0, 1], 5)]))
    (row,) = decode_metric_points(body, PROTOBUF, "p1").rows
    assert set(row) == set(POINT_COLUMNS)
