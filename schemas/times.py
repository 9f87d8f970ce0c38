"""Time formats both stores share.

ClickHouse hands back naive UTC times and the metadata DB aware ones; the API shows both the same way.
"""

from __future__ import annotations

from datetime import UTC, datetime


def iso_utc(value: datetime) -> str:
    """ISO-8601 with its offset; ClickHouse hands back UTC times without one, which JavaScript
    would read as local time."""
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
