-- A per-request fee (Perplexity's search models bill one per call besides tokens), so the cost
-- parts still add up to cost_total. Rows written before it read NULL, as any unpriced part does.
ALTER TABLE {db}.spans ADD COLUMN IF NOT EXISTS cost_request Nullable(Decimal(38, 12)) AFTER cost_cache_write;
