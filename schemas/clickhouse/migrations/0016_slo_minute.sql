-- Good and total events per SLO and minute (detectors/slo): an SLO's burn windows (5m..24h) and
-- its budget window (e.g. 28 days) are sums over this small table, never a scan of raw spans,
-- and "calls under X ms" is counted exactly, which a t-digest of the call rollup cannot give.
-- A minute is recomputed whole from the deduplicated calls (or verdicts) when it receives a span
-- (or a score); the newest computation replaces the older (read with FINAL). `slo_key` is drawn
-- at random when the SLO is created, so a deleted SLO's rows never count for a new one.
CREATE TABLE IF NOT EXISTS {db}.slo_minute
(
    project_id LowCardinality(String),
    slo_key UInt64,
    bucket DateTime('UTC'),
    good UInt64,
    total UInt64,
    computed_at DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree(computed_at)
PARTITION BY toYYYYMM(bucket)
ORDER BY (slo_key, bucket);

-- The same per hour, remade from the minute rows whenever they change: an SLO's 28-day budget
-- reads ~670 hour rows and two partial hours of minutes instead of ~40,000 minute rows, so a tick
-- with hundreds of SLOs stays cheap whatever their windows.
CREATE TABLE IF NOT EXISTS {db}.slo_hour AS {db}.slo_minute
ENGINE = ReplacingMergeTree(computed_at)
PARTITION BY toYYYYMM(bucket)
ORDER BY (slo_key, bucket);
