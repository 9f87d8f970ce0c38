"""Regression runs written straight into the metadata DB (experiments, the runs the regression job
records, their gates and an incident), for tests of what shows them without running a target or
the drift detector (tests/integration/test_regression.py drives the job itself end to end)."""

from __future__ import annotations

from datetime import UTC, datetime

from schemas.metadata.alert_store import AlertStore
from schemas.metadata.regression import BASELINE, CHANGE, NewRun, RegressionStore
from schemas.metadata.store import Metadata
from tests.experiment_data import MAIN, PR, golden_set, record_experiment

BASELINE_RUN = "regression-gpt-4o-baseline-v1-1a2b3c4d"
CHANGE_RUN = "regression-gpt-4o-gpt-4o-2024-08-06-9f8e7d6c"
RUNNING_RUN = "regression-gpt-4o-mini-fp_5e6f-0c1d2e3f"
REASON = "the pass rate is significantly worse: 8 regression(s) against 1 improvement(s), McNemar p = 0.0391 < 0.05"
CHANGED_AT = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def seed_runs(metadata: Metadata, alerts: AlertStore) -> int:
    """Dataset `golden` (20 items) and three runs in project default: a baseline that passed, a model
    change whose gate failed (with its incident), and a change still running; returns the incident."""
    items = golden_set(metadata)
    record_experiment(metadata, BASELINE_RUN, items, MAIN)
    record_experiment(metadata, CHANGE_RUN, items, PR)
    record_experiment(metadata, RUNNING_RUN, items, PR, status="running")
    regression = RegressionStore(metadata)
    regression.add_run(NewRun("default", BASELINE_RUN, BASELINE, "gpt-4o"))
    regression.record_gate("default", BASELINE_RUN, True, "", [], None)
    regression.add_run(NewRun("default", CHANGE_RUN, CHANGE, "gpt-4o", event_id="9f8e7d6c", changed_at=CHANGED_AT,
                              change_from="gpt-4o-2024-05-13", change_to="gpt-4o-2024-08-06"))
    incident = alerts.open_incident(
        "default", "Regression gate failed: gpt-4o (gpt-4o-2024-05-13 -> gpt-4o-2024-08-06)", "error", CHANGED_AT)
    regression.record_gate("default", CHANGE_RUN, False, BASELINE_RUN, [REASON], incident)
    regression.add_run(NewRun("default", RUNNING_RUN, CHANGE, "gpt-4o-mini", event_id="0c1d2e3f",
                              changed_at=CHANGED_AT, change_from="fp_1a2b", change_to="fp_5e6f"))
    return incident
