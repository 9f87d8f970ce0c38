-- Hourly call rollup, made from the minute rollup whenever its minutes change: a week's chart or
-- KPI merges ~170 hourly latency digests per series instead of ~10,000 minute ones. Same
-- columns and the same replace-on-recompute rule as the minute table.
CREATE TABLE IF NOT EXISTS {db}.call_metrics_hour AS {db}.call_metrics_minute
ENGINE = ReplacingMergeTree(computed_at)
PARTITION BY toYYYYMM(bucket)
ORDER BY (project_id, bucket, request_model, provider, service_name, environment);

-- Hours of a minute rollup that predates this table. Re-running it recomputes the same rows,
-- which replace the earlier ones. The columns are named, so it still runs on the table as later
-- migrations widen it (0010 adds the shadow key, false for these rows).
INSERT INTO {db}.call_metrics_hour (project_id, bucket, request_model, provider, service_name, environment,
    requests, errors, cache_hits, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_total,
    unpriced, cache_read_savings, priced_uncached_cost, priced_uncached_requests, traces, users, latency, ttft,
    ttft_count, computed_at)
SELECT m.project_id AS project_id, toStartOfHour(m.bucket) AS bucket, m.request_model AS request_model,
    m.provider AS provider, m.service_name AS service_name, m.environment AS environment,
    sum(m.requests) AS requests, sum(m.errors) AS errors, sum(m.cache_hits) AS cache_hits,
    sum(m.input_tokens) AS input_tokens, sum(m.output_tokens) AS output_tokens,
    sum(m.cache_read_tokens) AS cache_read_tokens, sum(m.cache_write_tokens) AS cache_write_tokens,
    sum(m.cost_total) AS cost_total, sum(m.unpriced) AS unpriced, sum(m.cache_read_savings) AS cache_read_savings,
    sum(m.priced_uncached_cost) AS priced_uncached_cost, sum(m.priced_uncached_requests) AS priced_uncached_requests,
    uniqMergeState(m.traces) AS traces, uniqMergeState(m.users) AS users,
    quantilesTDigestMergeState(0.5, 0.95, 0.99)(m.latency) AS latency,
    quantilesTDigestMergeState(0.5, 0.95, 0.99)(m.ttft) AS ttft, sum(m.ttft_count) AS ttft_count,
    now64(6) AS computed_at
FROM {db}.call_metrics_minute AS m FINAL
GROUP BY project_id, bucket, request_model, provider, service_name, environment;
