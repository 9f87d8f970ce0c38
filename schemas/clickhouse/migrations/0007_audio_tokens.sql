-- Audio tokens counted apart from text (they are parts of input_tokens / output_tokens) and priced
-- at their own rates where the list price has them, so cost_input_audio and cost_output_audio
-- are parts of cost_total like the others. Rows written before it read 0 tokens and NULL cost.
-- Nullable like the other counts since 0006: a count no call can have is stored as NULL.
ALTER TABLE {db}.spans ADD COLUMN IF NOT EXISTS input_audio_tokens Nullable(UInt64) DEFAULT 0 AFTER call_key;
ALTER TABLE {db}.spans ADD COLUMN IF NOT EXISTS output_audio_tokens Nullable(UInt64) DEFAULT 0 AFTER input_audio_tokens;
ALTER TABLE {db}.spans ADD COLUMN IF NOT EXISTS cost_input_audio Nullable(Decimal(38, 12)) AFTER output_audio_tokens;
ALTER TABLE {db}.spans ADD COLUMN IF NOT EXISTS cost_output_audio Nullable(Decimal(38, 12)) AFTER cost_input_audio;
