"""The data contract every part of llmpulse imports: records, fields, DDL, models, store."""
