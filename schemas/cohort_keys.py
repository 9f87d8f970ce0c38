"""A project's declared cohort keys: the attribute keys its A/B comparisons are rolled up by.

A comparison by any attribute key works (`schemas.clickhouse.cohorts` scans the window's calls); a
comparison by a declared key reads the per-hour rollup of that key (`schemas.clickhouse.
cohort_rollup`), a few rows an hour instead of every call. The default declares how the
conventions name a prompt version and an app's release, so most projects need not set anything;
a key no call carries costs nothing. The setting is stored as JSON (NULL: these defaults, so a
project that never chose follows them as they grow).
"""

from __future__ import annotations

import json

DEFAULT_COHORT_KEYS = (
    "llmpulse.prompt.version",  # llmpulse's own (the demo's A/B test of two prompts)
    "llm.prompt_template.version",  # OpenInference
    "traceloop.prompt.version",  # OpenLLMetry
    "langfuse.observation.prompt.version",  # Langfuse
    "service.version",  # OpenTelemetry resource: the app's release
    "langfuse.release",  # Langfuse
    "langfuse.version",
    "deployment.release",
)
# Each declared key is looked up on every call the rollup reads, and each value it takes is a row
# an hour: a handful of keys with few values each (versions, releases) is what the rollup is for.
MAX_COHORT_KEYS = 20
MAX_KEY_CHARS = 256


def declared_keys(stored: str | None) -> tuple[str, ...]:
    """The keys a project declares, from their stored form (None: the defaults)."""
    if stored is None:
        return DEFAULT_COHORT_KEYS
    return tuple(json.loads(stored))


def stored_keys(keys: list[str] | None) -> str | None:
    """The stored form of a checked list of keys (None: follow the defaults)."""
    return None if keys is None else json.dumps(list(keys))
