"""What `PUT /api/v1/projects/<name>` may say about the project's declared cohort keys
(`schemas.cohort_keys`), checked before anything is stored.

Pure (no DB, no Flask), like `evals.regression_settings`. A key is any span or resource attribute
key, bound as a query parameter wherever it is read, so only its size is limited; the names A/B
comparisons read from a column instead (`model`, `service`, ..., `tag`) are refused, since no
comparison by them would ever read the rollup. `null` returns the project to the defaults.
"""

from __future__ import annotations

from typing import Any

from evals.experiment_request import RequestError
from schemas.clickhouse.cohorts import COLUMNS, TAG
from schemas.cohort_keys import DEFAULT_COHORT_KEYS, MAX_COHORT_KEYS, MAX_KEY_CHARS

FIELD = "cohort_keys"


def parse_cohort_keys(value: Any) -> list[str] | None:
    """The keys to store (None: follow the defaults), or a RequestError naming what is wrong."""
    if value is None:
        return None
    if not isinstance(value, list):
        raise RequestError(f"{FIELD} must be a list of attribute keys, e.g. {list(DEFAULT_COHORT_KEYS[:2])}, "
                           "or null for the defaults")
    if len(value) > MAX_COHORT_KEYS:
        raise RequestError(f"{FIELD} has {len(value)} keys; at most {MAX_COHORT_KEYS}")
    keys = [_key(key) for key in value]
    twice = sorted({key for key in keys if keys.count(key) > 1})
    if twice:
        raise RequestError(f"{FIELD}: {twice[0]!r} is given twice")
    return keys


def _key(key: Any) -> str:
    if not isinstance(key, str) or not key.strip() or len(key) > MAX_KEY_CHARS or key != key.strip():
        raise RequestError(f"{FIELD}: {key!r} is not an attribute key (1-{MAX_KEY_CHARS} characters, no "
                           "surrounding spaces)")
    if key in COLUMNS or key == TAG:
        raise RequestError(f"{FIELD}: {key!r} names a column, which a comparison reads without a rollup; "
                           "declare span or resource attribute keys (llmpulse.prompt.version, service.version)")
    return key
