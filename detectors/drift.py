"""The drift detector: explicit model changes and silent behaviour shifts, per requested model.

Explicit: a response model or system fingerprint first served behind a requested model after
others had been, becomes a `model_change` event dated to its first sighting. Silent: the last
`current` window of calls is compared with the `baseline` window before it by `detectors.shift`
(a test per feature plus a classifier two-sample test); a shift becomes a `behaviour` event.
Events are idempotent: a change is reported once, however many runs see it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

from detectors.base import DetectorContext, RunResult
from detectors.scoring.texts import answer_text
from detectors.shift.report import FeatureShift, ShiftReport
from detectors.shift.sample import sample_from_rows
from detectors.worker import Failed, Worker
from schemas.clickhouse.drift import (
    ServedVersion,
    call_features,
    insert_drift_events,
    known_event_ids,
    model_window_counts,
    served_versions,
)
from schemas.clickhouse.quality import drift_events

MODEL_CHANGE, BEHAVIOUR = "model_change", "behaviour"
COMPARE_WINDOWS = "detectors.shift.compare:compare_windows"  # run in the worker process
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DriftSettings:
    current: timedelta = timedelta(hours=6)  # the window tested for a shift
    baseline: timedelta = timedelta(days=7)  # what it is compared with
    version_lookback: timedelta = timedelta(days=30)
    min_version_calls: int = 3  # a version served fewer times is noise (a canary, a retry), not a change
    settle: timedelta = timedelta(hours=1)  # versions first seen this close to the first one are the initial mix
    max_calls: int = 3000  # per window and model: an even sample keeps the test fast and memory bounded
    min_calls: int = 30


@dataclass(frozen=True)
class ModelWindows:
    """One model's baseline and current samples, compared in the worker."""

    project: str
    model: str
    baseline: list[dict[str, Any]]
    current: list[dict[str, Any]]


class DriftDetector:
    name = "drift"

    def __init__(self, interval: float, settings: DriftSettings = DriftSettings()) -> None:
        self.interval, self.settings = interval, settings

    def run(self, ctx: DetectorContext) -> RunResult:
        """The worker starts once some model has calls in both windows, before the slow reads: it
        imports SciPy while the changes are looked for and the samples read (~1 s each over 1M
        calls), and one worker serves every project."""
        counts = {p.name: self._window_counts(ctx, p.name) for p in ctx.metadata.list_projects()}
        with Worker(COMPARE_WINDOWS) if any(counts.values()) else nullcontext() as worker:
            found = [event for project in counts for event in self.model_changes(ctx, project)]
            windows = [w for project, models in counts.items() for w in self._windows(ctx, project, models)]
            reports = worker.run([self._comparison(w) for w in windows]) if worker else []
        found += self._shift_events(ctx, windows, reports)
        insert_drift_events(ctx.store, found)
        read = sum(len(w.baseline) + len(w.current) for w in windows)
        return RunResult(rows_read=read, rows_written=len(found), message=f"{len(found)} new drift event(s)")

    # --- explicit changes ----------------------------------------------------------------------

    def model_changes(self, ctx: DetectorContext, project: str) -> list[dict[str, Any]]:
        s, known = self.settings, known_event_ids(ctx.store, project)
        events = []
        served = served_versions(ctx.store, project, ctx.now - s.version_lookback, ctx.now, s.min_version_calls)
        for column, versions in served.items():
            for before, after in _changes(versions, s.settle):
                event = self._change_event(ctx, project, column, before, after)
                if event["event_id"] not in known:
                    events.append(event)
        return events

    def _change_event(self, ctx: DetectorContext, project: str, column: str, before: ServedVersion,
                      after: ServedVersion) -> dict[str, Any]:
        label = column.replace("_", " ")
        return _event(project, MODEL_CHANGE, after.request_model, after.provider, ctx.now,
                      key=f"{column}|{before.value}|{after.value}", from_value=before.value, to_value=after.value,
                      changed_at=after.first_seen, features=[{"name": column, "from": before.value,
                                                              "to": after.value, "calls": after.calls}],
                      summary=f"{after.request_model}: {label} changed from {before.value} to {after.value}")

    # --- silent shifts -------------------------------------------------------------------------

    def _bounds(self, now: datetime) -> tuple[datetime, datetime]:
        """(start, split): the baseline window is [start, split), the current one [split, now)."""
        split = now - self.settings.current
        return split - self.settings.baseline, split

    def _window_counts(self, ctx: DetectorContext, project: str) -> dict[str, tuple[int, int]]:
        """Calls per model in the baseline and current windows, for models with enough of both."""
        start, split = self._bounds(ctx.now)
        return model_window_counts(ctx.store, project, start, split, ctx.now, self.settings.min_calls)

    def _windows(self, ctx: DetectorContext, project: str, counts: dict[str, tuple[int, int]]) -> list[ModelWindows]:
        if not counts:
            return []
        start, split = self._bounds(ctx.now)
        baselines = self._samples(ctx, project, {m: b for m, (b, _) in counts.items()}, start, split)
        currents = self._samples(ctx, project, {m: a for m, (_, a) in counts.items()}, split, ctx.now)
        return [ModelWindows(project, m, baselines[m], currents[m]) for m in counts]

    def _comparison(self, windows: ModelWindows) -> tuple[tuple[Any, ...], dict[str, Any]]:
        return ((sample_from_rows(windows.baseline), sample_from_rows(windows.current)),
                {"min_samples": self.settings.min_calls})

    def _shift_events(self, ctx: DetectorContext, windows: list[ModelWindows],
                      reports: list[Any]) -> list[dict[str, Any]]:
        """A `behaviour` event per drifted model, unless one was already reported this window."""
        _, split = self._bounds(ctx.now)
        recent = {(p, e["model"]) for p in {w.project for w in windows}
                  for e in drift_events(ctx.store, p, split, ctx.now, kind=BEHAVIOUR)}
        events = []
        for w, report in zip(windows, reports, strict=True):
            if isinstance(report, Failed):
                log.error("comparing windows of %s/%s failed: %s", w.project, w.model, report.error)
            elif report.drifted and (w.project, w.model) not in recent:  # one event per shift, not per run
                events.append(self._shift_event(ctx, w.project, w.model, report))
        return events

    def _samples(self, ctx: DetectorContext, project: str, counts: dict[str, int], start: datetime,
                 end: datetime) -> dict[str, list[dict[str, Any]]]:
        found = call_features(ctx.store, project, counts, start, end, self.settings.max_calls)
        return {model: [{**row, "start_time": row["time"], "answer": answer_text(_messages(row["output_messages"]))}
                        for row in rows] for model, rows in found.items()}

    def _shift_event(self, ctx: DetectorContext, project: str, model: str, report: ShiftReport) -> dict[str, Any]:
        moved = [f for f in report.features if f.moved]
        fallback = ctx.now - self.settings.current
        changed = datetime.fromtimestamp(report.changed_at, UTC) if report.changed_at else fallback
        return _event(project, BEHAVIOUR, model, "", ctx.now, key=f"behaviour|{changed.isoformat()}",
                      from_value="; ".join(f"{f.name} {_shown(f.baseline)}" for f in moved),
                      to_value="; ".join(f"{f.name} {_shown(f.current)}" for f in moved),
                      changed_at=changed, features=[_feature_json(f) for f in report.features],
                      summary=f"{model}: {report.reason}", auc=report.auc, p_value=report.auc_p_value,
                      baseline_n=report.baseline_n, current_n=report.current_n)


def _changes(versions: list[ServedVersion], settle: timedelta) -> Iterator[tuple[ServedVersion, ServedVersion]]:
    """(previous, new) for each version first served well after the model's first version."""
    by_model: dict[str, list[ServedVersion]] = {}
    for version in versions:
        by_model.setdefault(version.request_model, []).append(version)
    for served in by_model.values():
        first = served[0].first_seen
        for before, after in pairwise(served):
            if after.first_seen - first >= settle:
                yield before, after


def _event(project: str, kind: str, model: str, provider: str, now: datetime, *, key: str, from_value: str,
           to_value: str, changed_at: datetime, features: list[dict[str, Any]], summary: str,
           auc: float | None = None, p_value: float | None = None, baseline_n: int = 0,
           current_n: int = 0) -> dict[str, Any]:
    event_id = hashlib.sha1(f"{project}|{kind}|{model}|{key}".encode(), usedforsecurity=False).hexdigest()[:16]
    return {"project_id": project, "event_id": event_id, "kind": kind, "request_model": model,
            "provider": provider, "from_value": from_value[:1000], "to_value": to_value[:1000],
            "changed_at": changed_at, "detected_at": now, "features": features, "auc": auc, "p_value": p_value,
            "baseline_n": baseline_n, "current_n": current_n, "summary": summary[:2000]}


def _feature_json(feature: FeatureShift) -> dict[str, Any]:
    return {"name": feature.name, "test": feature.test, "moved": feature.moved, "p_value": feature.p_value,
            "p_adjusted": feature.p_adjusted,
            "baseline": _jsonable(feature.baseline), "current": _jsonable(feature.current),
            "change": _jsonable(feature.change), "effect": _jsonable(feature.effect)}


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, float | int) and not isinstance(value, bool):
        return None if value != value else round(float(value), 6)
    return value


def _shown(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float | int) and not isinstance(value, bool) else str(value)


def _messages(text: str) -> list[dict[str, Any]]:
    try:
        value = json.loads(text) if text else []
    except ValueError:  # cut at 4,000 characters by the query: the text is still useful
        return [{"role": "assistant", "content": text}]
    return [m for m in value if isinstance(m, dict)] if isinstance(value, list) else []
