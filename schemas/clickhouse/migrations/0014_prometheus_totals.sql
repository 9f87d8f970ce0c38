-- Prometheus (`GET /metrics`) reads cumulative totals from the rollups. Two things the rollups lacked:
--
-- 1. Latency and TTFT histograms a scrape can add up: per row, how many calls took at most each
--    bound of schemas/clickhouse/histograms.py (cumulative, as Prometheus's `le` buckets; the last
--    element counts every call, the +Inf bucket) and the sum of their times. A t-digest answers the
--    quantiles of one window but cannot be summed across scrapes or instances; `histogram_quantile`
--    over `rate()` of bucket counters can. Rows written before this hold an empty array and 0: they
--    stay out of the histograms (not of the request counters) until their minute is recomputed.
ALTER TABLE {db}.call_metrics_minute
    ADD COLUMN IF NOT EXISTS latency_le Array(UInt64) AFTER ttft_count,
    ADD COLUMN IF NOT EXISTS latency_sum_ms Float64 AFTER latency_le,
    ADD COLUMN IF NOT EXISTS ttft_le Array(UInt64) AFTER latency_sum_ms,
    ADD COLUMN IF NOT EXISTS ttft_sum_ms Float64 AFTER ttft_le;
ALTER TABLE {db}.call_metrics_hour
    ADD COLUMN IF NOT EXISTS latency_le Array(UInt64) AFTER ttft_count,
    ADD COLUMN IF NOT EXISTS latency_sum_ms Float64 AFTER latency_le,
    ADD COLUMN IF NOT EXISTS ttft_le Array(UInt64) AFTER latency_sum_ms,
    ADD COLUMN IF NOT EXISTS ttft_sum_ms Float64 AFTER ttft_le;

-- 2. Totals that outlive retention. A counter must never go down, and retention deletes old hours:
--    before it does, the retention detector adds the project's expiring hour rows into this table, one
--    row per rollup key, with `through` = the cutoff (every key of the project is rewritten at once, so
--    they share it). A counter is then this row plus the hour rows from `through` on. Re-running a
--    carry that stopped half way adds nothing twice: it adds only the hours in [old through, cutoff).
--    No message, user or trace id is kept here, only sums per model, provider, service, environment.
CREATE TABLE IF NOT EXISTS {db}.call_metrics_retired
(
    project_id LowCardinality(String),
    request_model LowCardinality(String),
    provider LowCardinality(String),
    service_name LowCardinality(String),
    environment LowCardinality(String),
    shadow Bool,
    through DateTime('UTC'),
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
    app_cache_savings Decimal(38, 12),
    latency_le Array(UInt64),
    latency_sum_ms Float64,
    ttft_le Array(UInt64),
    ttft_sum_ms Float64,
    retired_at DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree(retired_at)
ORDER BY (project_id, request_model, provider, service_name, environment, shadow);
