"""The data contract every part of llmpulse imports.

Shared definitions here (records, fields, the convention table, token parts, times); the two
stores below: `schemas.clickhouse` (spans, rollups, quality, drift, the reads) and
`schemas.metadata` (projects, keys, users, sessions, detector runs, alerting).
"""
