"""The ClickHouse side: spans and everything derived from them.

`store` connects, migrates (migrations/*.sql) and inserts; the other modules are the reads and
writes of calls, rollups, evaluations, drift and retention, all through a `Store`.
"""
