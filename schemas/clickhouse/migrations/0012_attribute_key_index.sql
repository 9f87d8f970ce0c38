-- Which attribute keys each granule's spans carry. An A/B comparison by an attribute first asks
-- which map holds the key (schemas.clickhouse.cohorts.holding_maps), and a key that no span of the
-- window holds, in one of the two maps, was a scan of every key: 0.25 s of the comparison at 10M
-- spans, against 4 ms with these indexes. Existing parts are indexed by the mutation below, in the
-- background; until then they are read as before (the answer never depends on an index).
ALTER TABLE {db}.spans ADD INDEX IF NOT EXISTS idx_attribute_keys mapKeys(attributes) TYPE bloom_filter(0.01) GRANULARITY 1;
ALTER TABLE {db}.spans ADD INDEX IF NOT EXISTS idx_resource_keys mapKeys(resource_attributes) TYPE bloom_filter(0.01) GRANULARITY 1;
ALTER TABLE {db}.spans MATERIALIZE INDEX idx_attribute_keys;
ALTER TABLE {db}.spans MATERIALIZE INDEX idx_resource_keys;
