-- Shadow mode: a candidate model's call that answers the same input as the app's own call (the
-- primary) and whose answer the user never sees; `shadow_of` holds the primary's span id, '' on
-- every other span and on rows written before it.
ALTER TABLE {db}.spans ADD COLUMN IF NOT EXISTS shadow_of String DEFAULT '' AFTER cost_output_audio;
-- The rollups keep shadow calls in rows of their own (a key column: existing rows read false), so
-- spend counts them while requests, errors and latency leave them out, and a read may ask for
-- either side alone. A column added to the sorting key in the same ALTER may have no DEFAULT
-- expression; a Bool's own default is false.
ALTER TABLE {db}.call_metrics_minute ADD COLUMN IF NOT EXISTS shadow Bool AFTER environment,
    MODIFY ORDER BY (project_id, bucket, request_model, provider, service_name, environment, shadow);
ALTER TABLE {db}.call_metrics_hour ADD COLUMN IF NOT EXISTS shadow Bool AFTER environment,
    MODIFY ORDER BY (project_id, bucket, request_model, provider, service_name, environment, shadow);
