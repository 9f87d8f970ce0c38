-- GenAI events that instrumentations send as OTLP log records (gen_ai.user.message, gen_ai.choice,
-- gen_ai.client.inference.operation.details, ...). They are attached to their span when it is read.
CREATE TABLE IF NOT EXISTS {db}.genai_events
(
    project_id LowCardinality(String),
    trace_id String,
    span_id String,
    time DateTime64(9, 'UTC'),
    event_name LowCardinality(String),
    record_id String,
    body String CODEC(ZSTD(1)),
    input_messages String CODEC(ZSTD(1)),
    output_messages String CODEC(ZSTD(1)),
    attributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ingested_at DateTime64(6, 'UTC') DEFAULT now64(6)
)
ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(time)
ORDER BY (project_id, trace_id, span_id, record_id)
