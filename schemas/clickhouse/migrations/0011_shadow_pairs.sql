-- Shadow calls paired with their primaries, kept current by the shadow-pairs detector so the shadow
-- report reads one row per shadow call (~5% of spans) instead of pairing every span of its window.
-- One row per shadow span (its identity is the key, as in spans), recomputed whole from the spans of
-- its trace whenever that trace receives a span: a primary that arrives after its shadow call turns
-- the row from unpaired (primary_id '') to paired, and a redelivered span writes the same row again;
-- the newest computation replaces the older (read with FINAL), so no pair is counted twice. The
-- shadow call's filter columns keep their span names, so a filtered report reads this table too.
CREATE TABLE IF NOT EXISTS {db}.shadow_pairs
(
    project_id LowCardinality(String),
    start_time DateTime64(6, 'UTC'),
    trace_id String,
    candidate_id String,
    shadow_of String,
    request_model LowCardinality(String),
    provider LowCardinality(String),
    service_name LowCardinality(String),
    environment LowCardinality(String),
    user_id String,
    session_id String,
    tags Array(String),
    candidate_cost Nullable(Decimal(38, 12)),
    candidate_ms Float64,
    primary_id String,
    primary_model LowCardinality(String),
    primary_cost Nullable(Decimal(38, 12)),
    primary_ms Float64,
    computed_at DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree(computed_at)
PARTITION BY toYYYYMM(start_time)
ORDER BY (project_id, toStartOfHour(start_time), trace_id, candidate_id);
