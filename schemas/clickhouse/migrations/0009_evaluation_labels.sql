-- A person's label (the annotation queue) is an evaluation row of source 'human': who gave it and
-- the right answer they wrote, if any. Rows of other sources read ''.
ALTER TABLE {db}.evaluations ADD COLUMN IF NOT EXISTS annotator LowCardinality(String) DEFAULT '' AFTER error;
ALTER TABLE {db}.evaluations ADD COLUMN IF NOT EXISTS correction String DEFAULT '' CODEC(ZSTD(1)) AFTER annotator;
