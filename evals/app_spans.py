"""App-run results from spans: an app ran its own pipeline over a dataset and exported its spans
tagged with the experiment and the item (`schemas.experiment_fields`: ours or Langfuse's names).

Per item the answer is on the item's root span: the span carrying the item id whose parent does
not (an app may tag every span of its pipeline), or the span Langfuse names as the item's root
observation. The answer is the root's recorded output (`OUTPUT_KEYS`), else the output of the last
LLM call of its trace (an app that never wrote its answer on a span still has one), and the item
errored when the root's status is an error. An item of the dataset version that no span names is
an error, never silently dropped from the pass rate.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from typing import Any

from collector.coerce import unquote
from detectors.scoring.texts import answer_text
from evals.results import FIRST_POLL, LAST_POLL, SpanKey, SpanReading, await_spans
from schemas.clickhouse.experiment_spans import last_call_outputs, tagged_spans
from schemas.clickhouse.store import Store

# An output attribute as the answer: Langfuse's SDK JSON-encodes a text output ("\"Paris\"") as it
# does metadata values, so ingest's own unquoting serves; any other value stays as written.
recorded_output = unquote

NO_SPAN = "no span arrived for this item"
SPAN_ERROR = "the item's span ended with an error"


def collect_app_results(store: Store, project: str, experiment: str, since: datetime, item_ids: Sequence[int],
                        awaited: Collection[int], timeout: float, *, stopped: threading.Event | None = None,
                        clock: Callable[[], float] = time.monotonic
                        ) -> tuple[list[dict[str, Any]], dict[SpanKey, SpanReading]]:
    """One result per item of `item_ids`, and the readings of the roots found. Waits (at most
    `timeout` seconds) until the root span of every `awaited` item is readable."""
    stopped = stopped or threading.Event()
    deadline = clock() + timeout
    roots = _wait_for_roots(store, project, experiment, since, set(awaited) & set(item_ids), deadline,
                            stopped, clock)
    readings = await_spans(store, project, [_key(r) for r in roots.values()], since, max(deadline - clock(), 0.0),
                           stopped=stopped, clock=clock)
    fallback = _last_answers(store, project, [r for r in roots.values() if not r["output"]], since)
    return [_result(item_id, roots.get(item_id), fallback) for item_id in item_ids], readings


def _wait_for_roots(store: Store, project: str, experiment: str, since: datetime, awaited: set[int],
                    deadline: float, stopped: threading.Event, clock: Callable[[], float]) -> dict[int, dict[str, Any]]:
    pause = FIRST_POLL
    roots = item_roots(tagged_spans(store, project, experiment, since))
    while not awaited <= set(roots) and clock() < deadline and not stopped.is_set():
        stopped.wait(min(pause, max(deadline - clock(), 0.0)))
        pause = min(pause * 2, LAST_POLL)
        roots = item_roots(tagged_spans(store, project, experiment, since))
    return roots


def item_roots(spans: Sequence[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """Per item id, its root span; when an item ran more than once, the latest run's."""
    by_item: dict[int, list[dict[str, Any]]] = {}
    for span in spans:
        item_id = _item_id(span["item_id"])
        if item_id is not None:
            by_item.setdefault(item_id, []).append(span)
    return {item_id: _root(tagged) for item_id, tagged in by_item.items()}


def _root(tagged: list[dict[str, Any]]) -> dict[str, Any]:
    ids = {(s["trace_id"], s["span_id"]) for s in tagged}
    named = {(s["trace_id"], s["root_span_id"]) for s in tagged if s["root_span_id"]} & ids
    roots = [s for s in tagged if (s["trace_id"], s["span_id"]) in named] or \
        [s for s in tagged if (s["trace_id"], s["parent_span_id"]) not in ids]
    return max(roots or tagged, key=lambda s: (s["start_time"], s["span_id"]))


def _item_id(text: str) -> int | None:
    """Our item ids are whole numbers; an id an app made up (a Langfuse UUID) names no item here."""
    try:
        return int(str(text).strip().strip('"'))
    except ValueError:
        return None


def _key(root: dict[str, Any]) -> SpanKey:
    return root["trace_id"], root["span_id"]


def _last_answers(store: Store, project: str, roots: list[dict[str, Any]], since: datetime) -> dict[str, str]:
    outputs = last_call_outputs(store, project, [r["trace_id"] for r in roots], since)
    return {trace_id: answer_text(_json_list(text)) for trace_id, text in outputs.items()}


def _result(item_id: int, root: dict[str, Any] | None, fallback: dict[str, str]) -> dict[str, Any]:
    if root is None:
        return {"item_id": item_id, "output": "", "error": NO_SPAN}
    output = recorded_output(root["output"]) if root["output"] else fallback.get(root["trace_id"], "")
    error = (root["status_message"] or SPAN_ERROR) if root["status_code"] == "error" else ""
    return {"item_id": item_id, "trace_id": root["trace_id"], "span_id": root["span_id"], "output": output,
            "error": error, "latency_ms": float(root["duration_ms"])}


def _json_list(text: str) -> list[Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return []
    return value if isinstance(value, list) else []
