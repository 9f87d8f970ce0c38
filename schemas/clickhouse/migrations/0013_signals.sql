-- Per-call failure signals, decided at ingest (collector/signals.py): the request asked for JSON (or
-- the answer is a tool call), the answer failed that (not JSON, or outside the schema), the model
-- refused, the answer stopped at the token limit, a tool failed. Rows written before read false,
-- except two the stored columns still tell: a refusal by the rule the drift detector matched in
-- SQL until it moved to schemas/refusals.py (so drift compares a window before the upgrade with
-- one after on the same terms), and a truncation by its finish reason. Those defaults are computed
-- when an older part is read or merged; new rows carry the collector's own verdict.
ALTER TABLE {db}.spans ADD COLUMN IF NOT EXISTS json_requested Bool DEFAULT false AFTER shadow_of;
ALTER TABLE {db}.spans ADD COLUMN IF NOT EXISTS parse_failure Bool DEFAULT false AFTER json_requested;
ALTER TABLE {db}.spans ADD COLUMN IF NOT EXISTS refusal Bool DEFAULT span_type = 'llm' AND (
    match(lower(output_messages), 'i can(no|.)?t (help|assist|provide|do that)|i.?m (sorry|afraid),? (but )?i can|unable to (help|assist)')
    OR has(finish_reasons, 'content_filter')) AFTER parse_failure;
ALTER TABLE {db}.spans ADD COLUMN IF NOT EXISTS truncated Bool DEFAULT span_type = 'llm' AND hasAny(
    arrayMap(reason -> lower(reason), finish_reasons),
    ['length', 'max_tokens', 'max_output_tokens', 'model_length', 'model_context_window_exceeded']) AFTER refusal;
ALTER TABLE {db}.spans ADD COLUMN IF NOT EXISTS tool_error Bool DEFAULT false AFTER truncated;
-- The rollups count them per minute and hour, as they count errors. Existing rows read 0 until the
-- metrics detector rolls their days up again (its rollup version: detectors/metrics.py).
ALTER TABLE {db}.call_metrics_minute
    ADD COLUMN IF NOT EXISTS json_requests UInt64 AFTER ttft_count,
    ADD COLUMN IF NOT EXISTS parse_failures UInt64 AFTER json_requests,
    ADD COLUMN IF NOT EXISTS refusals UInt64 AFTER parse_failures,
    ADD COLUMN IF NOT EXISTS truncations UInt64 AFTER refusals,
    ADD COLUMN IF NOT EXISTS tool_errors UInt64 AFTER truncations;
ALTER TABLE {db}.call_metrics_hour
    ADD COLUMN IF NOT EXISTS json_requests UInt64 AFTER ttft_count,
    ADD COLUMN IF NOT EXISTS parse_failures UInt64 AFTER json_requests,
    ADD COLUMN IF NOT EXISTS refusals UInt64 AFTER parse_failures,
    ADD COLUMN IF NOT EXISTS truncations UInt64 AFTER refusals,
    ADD COLUMN IF NOT EXISTS tool_errors UInt64 AFTER truncations;
