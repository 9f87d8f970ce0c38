-- GenAI metric points that apps export over OTLP (/v1/metrics): gen_ai.client.token.usage,
-- gen_ai.client.operation.duration, TTFT, OpenLIT's gen_ai.usage.cost, OpenLLMetry's llm.*. Stored
-- as sent (cumulative or delta); readers turn cumulative points into deltas (schemas.clickhouse.
-- otel_metrics). A redelivered point has the same key (series, start, time) and replaces itself;
-- readers collapse copies with FINAL. Exponential histograms arrive projected onto a fixed grid
-- (collector.metric_points.EXP_GRID), so every histogram here has explicit bounds.
CREATE TABLE IF NOT EXISTS {db}.otel_metric_points
(
    project_id LowCardinality(String),
    name LowCardinality(String),
    unit LowCardinality(String),
    kind LowCardinality(String),
    temporality LowCardinality(String),
    monotonic Bool,
    service LowCardinality(String),
    model LowCardinality(String),
    provider LowCardinality(String),
    operation LowCardinality(String),
    token_type LowCardinality(String),
    error_type LowCardinality(String),
    attributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    series_key String,
    start_ns UInt64,
    time_ns UInt64,
    time DateTime64(9, 'UTC') MATERIALIZED fromUnixTimestamp64Nano(toInt64(time_ns), 'UTC'),
    count UInt64,
    sum Float64,
    min Nullable(Float64),
    max Nullable(Float64),
    value Float64,
    bounds Array(Float64),
    bucket_counts Array(UInt64),
    ingested_at DateTime64(6, 'UTC') DEFAULT now64(6)
)
ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(time)
ORDER BY (project_id, name, series_key, start_ns, time_ns);
