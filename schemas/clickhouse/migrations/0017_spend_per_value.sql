-- Spend per hour and user, per hour and tag: budgets per user (tag) read a month of spend per value
-- from here instead of merging a month of raw calls (5.6 s a tick at 1M spans). Made from the
-- deduplicated calls of each hour whenever the hourly call rollup remakes that hour (and by the
-- metrics detector's spend backfill for hours rolled up before this table existed); a row replaced on
-- recompute, a row whose value no longer has a call in its hour zeroed (`calls` = 0, skipped by
-- readers). Each call counts in its model's row and in the row of every model (request_model = ''),
-- which a budget without a model filter reads; the value comes before the hour so one user's status
-- (the gateway's question) reads only that user's rows.
CREATE TABLE IF NOT EXISTS {db}.call_spend_hour
(
    project_id LowCardinality(String),
    bucket DateTime('UTC'),
    dimension LowCardinality(String),
    value String,
    request_model LowCardinality(String),
    calls UInt64,
    cost_total Decimal(38, 12),
    computed_at DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree(computed_at)
PARTITION BY toYYYYMM(bucket)
ORDER BY (project_id, dimension, request_model, value, bucket);
