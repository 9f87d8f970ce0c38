-- Budgets per ingest key ("every key at most $X a month"). Ingest records the id of the ingest key
-- that sent a span in its resource attributes (`llmpulse.ingest_key`, never the key itself; spans
-- sent with no key carry none). This column reads it back as a plain LowCardinality string, so the
-- spend reads and the hourly spend refresh do not decode every span's resource map: computed as a
-- span is inserted; for spans stored before this migration it is computed from the map when read
-- (they carry no key: '').
ALTER TABLE {db}.spans
    ADD COLUMN IF NOT EXISTS ingest_key LowCardinality(String)
    MATERIALIZED resource_attributes['llmpulse.ingest_key'];

-- call_spend_hour (0017) gains a third dimension, 'ingest_key', beside 'user' and 'tag': the same rows
-- (project, hour, dimension, value, model), no new column. Hours made before this migration have no
-- ingest_key rows; the metrics detector remakes them (its spend mark, metrics.spend_whole_from, is
-- renamed with this migration, so the spend backfill runs again: today first, then a day a run), and
-- until an hour is remade, budget reads take it from raw calls.
