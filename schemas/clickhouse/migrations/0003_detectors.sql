-- What the detectors write back: per-minute call rollups, evaluations and drift events.

-- Lets the metrics detector find the minutes that received spans since its last run (late and
-- redelivered spans included) without reading every ingested_at.
ALTER TABLE {db}.spans ADD INDEX IF NOT EXISTS idx_ingested ingested_at TYPE minmax GRANULARITY 1;
ALTER TABLE {db}.spans MATERIALIZE INDEX idx_ingested;

-- One row per project, minute and (model, provider, service, environment), recomputed whole from
-- the deduplicated calls whenever that minute receives a span, so late and redelivered spans
-- never double-count: the newest computation of a row replaces the older (read with FINAL).
CREATE TABLE IF NOT EXISTS {db}.call_metrics_minute
(
    project_id LowCardinality(String),
    bucket DateTime('UTC'),
    request_model LowCardinality(String),
    provider LowCardinality(String),
    service_name LowCardinality(String),
    environment LowCardinality(String),
    requests UInt64,
    errors UInt64,
    cache_hits UInt64,
    input_tokens UInt64,
    output_tokens UInt64,
    cache_read_tokens UInt64,
    cache_write_tokens UInt64,
    cost_total Decimal(38, 12),
    unpriced UInt64,
    cache_read_savings Decimal(38, 12),
    priced_uncached_cost Decimal(38, 12),
    priced_uncached_requests UInt64,
    traces AggregateFunction(uniq, String),
    users AggregateFunction(uniq, String),
    latency AggregateFunction(quantilesTDigest(0.5, 0.95, 0.99), Float64),
    ttft AggregateFunction(quantilesTDigest(0.5, 0.95, 0.99), Float64),
    ttft_count UInt64,
    computed_at DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree(computed_at)
PARTITION BY toYYYYMM(bucket)
ORDER BY (project_id, bucket, request_model, provider, service_name, environment);

-- Scores of LLM spans: the offline groundedness scorer, the LLM judge, scores and feedback sent
-- by apps. One row per (span, scorer, evaluation id); a re-score replaces the earlier one.
CREATE TABLE IF NOT EXISTS {db}.evaluations
(
    project_id LowCardinality(String),
    trace_id String,
    span_id String,
    evaluation_id String,
    scorer LowCardinality(String),
    name LowCardinality(String),
    score Nullable(Float64),
    label LowCardinality(String),
    reason String CODEC(ZSTD(1)),
    hallucinated Nullable(Bool),
    request_model LowCardinality(String),
    span_time DateTime64(6, 'UTC'),
    source LowCardinality(String),
    cost Nullable(Decimal(38, 12)),
    input_tokens UInt64,
    output_tokens UInt64,
    error String,
    created_at DateTime64(6, 'UTC') DEFAULT now64(6)
)
ENGINE = ReplacingMergeTree(created_at)
PARTITION BY toYYYYMM(span_time)
ORDER BY (project_id, span_time, trace_id, span_id, scorer, evaluation_id);

-- Model changes (new response model or fingerprint behind a requested model) and behaviour shifts.
CREATE TABLE IF NOT EXISTS {db}.drift_events
(
    project_id LowCardinality(String),
    event_id String,
    kind LowCardinality(String),
    request_model LowCardinality(String),
    provider LowCardinality(String),
    from_value String,
    to_value String,
    changed_at DateTime64(6, 'UTC'),
    detected_at DateTime64(6, 'UTC'),
    features String CODEC(ZSTD(1)),
    auc Nullable(Float64),
    p_value Nullable(Float64),
    baseline_n UInt64,
    current_n UInt64,
    summary String
)
ENGINE = ReplacingMergeTree(detected_at)
ORDER BY (project_id, kind, request_model, event_id);
