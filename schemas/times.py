"""Time formats both stores share.

ClickHouse hands back naive UTC times and the metadata DB aware ones; the API shows both the same way.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

HOUR = timedelta(hours=1)


def iso_utc(value: datetime) -> str:
    """ISO-8601 with its offset; ClickHouse hands back UTC times without one, which JavaScript
    would read as local time."""
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()


def floor_minute(value: datetime) -> datetime:
    return value.replace(second=0, microsecond=0)


def floor_hour(value: datetime) -> datetime:
    return value.replace(minute=0, second=0, microsecond=0)


def ceil_hour(value: datetime) -> datetime:
    floor = floor_hour(value)
    return floor if floor == value else floor + HOUR
