-- A token count no call can have (above LLMPULSE_MAX_TOKENS_PER_CALL, negative, NaN) is refused,
-- not stored: the span keeps NULL there (unknown, not 0) and says why in its `llmpulse.refused`
-- attribute. Sums and averages skip NULL, so every total reads as before; rows written before
-- this keep their counts. `mutations_sync` makes the change done when the migration is.
ALTER TABLE {db}.spans
    MODIFY COLUMN input_tokens Nullable(UInt64),
    MODIFY COLUMN output_tokens Nullable(UInt64),
    MODIFY COLUMN cache_read_tokens Nullable(UInt64),
    MODIFY COLUMN cache_write_tokens Nullable(UInt64),
    MODIFY COLUMN reasoning_tokens Nullable(UInt64),
    MODIFY COLUMN total_tokens Nullable(UInt64)
SETTINGS mutations_sync = 2;
