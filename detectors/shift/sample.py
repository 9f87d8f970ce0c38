"""One window of calls, column-wise, and the column helpers both the tests and the classifier use."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from schemas import fields as f

OUTPUT_TOKENS, LATENCY_PER_TOKEN, TTFT, SCORE = "output_tokens", "latency_per_token_ms", "ttft_ms", "score"
FINISH_REASON, ERROR = "finish_reason", "error"
REFUSAL = f.REFUSAL  # the column ingest fills by the one refusal rule (`schemas.refusals`)
ANSWER_CHARS = "answer_chars"  # derived from the text, so a change of answer length is named, not only seen
DEFAULT_NUMERIC = (OUTPUT_TOKENS, LATENCY_PER_TOKEN, TTFT, SCORE)
DEFAULT_CATEGORICAL = (FINISH_REASON,)
DEFAULT_FLAGS = (REFUSAL, ERROR)
MIN_EXPECTED_COUNT = 5  # Cochran's rule: sparser chi-square cells make the test anti-conservative
OTHER = "(other)"


@dataclass(frozen=True)
class CallSample:
    """One window of calls, column-wise: NaN marks a missing number, `texts` may be empty."""

    times: np.ndarray  # epoch seconds
    numeric: dict[str, np.ndarray] = field(default_factory=dict)
    categorical: dict[str, list[str]] = field(default_factory=dict)
    flags: dict[str, np.ndarray] = field(default_factory=dict)
    texts: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.times)


def sample_from_rows(
    rows: Iterable[Mapping[str, Any]],
    *,
    numeric: Sequence[str] = DEFAULT_NUMERIC,
    categorical: Sequence[str] = DEFAULT_CATEGORICAL,
    flags: Sequence[str] = DEFAULT_FLAGS,
    text: str | None = "answer",
    time: str = "start_time",
) -> CallSample:
    """A `CallSample` from query rows; odd values become missing (NaN, "(none)", False), never an error."""
    rows = list(rows)
    return CallSample(
        times=np.array([_to_epoch(r.get(time)) for r in rows], dtype=float),
        numeric={k: np.array([_to_float(r.get(k)) for r in rows], dtype=float) for k in numeric},
        categorical={k: [_to_label(r.get(k)) for r in rows] for k in categorical},
        flags={k: np.array([_to_flag(r.get(k)) for r in rows], dtype=bool) for k in flags},
        texts=[str(r.get(text) or "") for r in rows] if text else [],
    )


def _to_float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _to_epoch(value: Any) -> float:
    if isinstance(value, datetime):  # ClickHouse hands back naive UTC datetimes
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    return _to_float(value)


def _to_label(value: Any) -> str:
    if isinstance(value, list | tuple):  # `finish_reasons` is an array column
        value = ",".join(map(str, value))
    return str(value) if value not in (None, "") else "(none)"


def _to_flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return bool(value) and value == value  # NaN is missing, not true


def numeric_columns(sample: CallSample) -> dict[str, np.ndarray]:
    columns = {name: np.asarray(values, dtype=float) for name, values in sample.numeric.items()}
    if sample.texts and len(sample.texts) == len(sample):
        columns[ANSWER_CHARS] = np.array([len(t) for t in sample.texts], dtype=float)
    return columns


def merge_sparse(base: Sequence[str], cur: Sequence[str]) -> dict[str, str]:
    """Category → label: rare ones pooled in "(other)", or in the commonest if even the pool is rare."""
    pooled = Counter(base) + Counter(cur)
    factor = min(len(base), len(cur)) / (len(base) + len(cur))  # expected count in the smaller window
    sparse = {k for k, n in pooled.items() if n * factor < MIN_EXPECTED_COUNT}
    rare_total = sum(pooled[k] for k in sparse)
    target = OTHER if rare_total * factor >= MIN_EXPECTED_COUNT else pooled.most_common(1)[0][0]
    return {k: target if k in sparse else k for k in pooled}
