-- A/B cohorts by a project's declared cohort keys (schemas.cohort_keys), per hour: what an A/B
-- comparison by such a key reads instead of every call of its window (schemas.clickhouse.cohort_rollup).
-- One row per project, key, hour and value of the live calls (not experiment, not shadow) whose span,
-- or else its resource, carries the key: the comparison's counts and sums, and a reservoir sample
-- per metric as a mergeable state (the comparison merges an hour's with the others'). An hour is
-- recomputed whole from deduplicated spans whenever it receives a span; the newest computation
-- replaces the older (read with FINAL), and a row the recomputation did not write again is zeroed.
CREATE TABLE IF NOT EXISTS {db}.cohort_hour
(
    project_id LowCardinality(String),
    key LowCardinality(String),
    bucket DateTime('UTC'),
    value String,
    requests UInt64,
    errors UInt64,
    priced UInt64,
    cost_total Decimal(38, 12),
    streamed UInt64,
    output_tokens UInt64,
    latency_sample AggregateFunction(groupArraySample(20000, 20261208), Float64),
    ttft_sample AggregateFunction(groupArraySample(20000, 20261208), Float64),
    output_tokens_sample AggregateFunction(groupArraySample(20000, 20261208), Float64),
    cost_sample AggregateFunction(groupArraySample(20000, 20261208), Float64),
    computed_at DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree(computed_at)
PARTITION BY toYYYYMM(bucket)
ORDER BY (project_id, key, bucket, value);
