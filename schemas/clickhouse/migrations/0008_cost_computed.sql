-- What llmpulse's own prices (override or list) make of a call, kept whichever cost counts: a
-- project that prefers the cost its app reports still sees ours beside it. Rows written before
-- it read NULL; their cost_total is ours when cost_source is list_price or override.
ALTER TABLE {db}.spans ADD COLUMN IF NOT EXISTS cost_computed Nullable(Decimal(38, 12)) AFTER cost_reported;
