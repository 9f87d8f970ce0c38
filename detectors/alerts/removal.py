"""Deleting a rule or a budget closes what it left open, the same from the API and the Alerts page.

Only its source's evaluation resolves an incident. Once the rule or budget is deleted nothing
evaluates it, so its incident would stay firing for good, on the Overview's banner and in
`/metrics`, and a page on call would never get its all-clear. A deleted rule's incident is resolved
with a note on its timeline, and its channels are told when they were told it fired (a PagerDuty
incident it triggered is closed), as a deleted guard's and SLO's are.
"""

from __future__ import annotations

from datetime import datetime

from detectors.alerts.detector import AlertsDetector
from detectors.alerts.incidents import FIRING, PENDING
from schemas.metadata.alert_store import AlertStore

OPEN_STATES = (PENDING, FIRING)


def remove_rule(alerts: AlertStore, engine: AlertsDetector | None, project: str, rule_id: int,
                now: datetime) -> bool:
    """Delete a rule (False: no such rule in the project) and resolve its open incident. Without an
    engine (a UI-only process, which sends nothing) the incident is resolved without the all-clear."""
    stored = alerts.get_rule(project, rule_id)
    if stored is None or not alerts.delete_rule(project, rule_id):
        return False
    if engine is not None:
        engine.retire_rule(stored, now, "the rule was deleted")
    elif stored.incident_id is not None and stored.state.get("state") in OPEN_STATES:
        alerts.resolve_incident(stored.incident_id, now, "the rule was deleted")
    return True


def remove_budget(alerts: AlertStore, project: str, budget_id: int, now: datetime) -> bool:
    """Delete a budget and resolve its open incidents: their channels were told a threshold was
    crossed, which stays true; like a new budget period, the close is not announced."""
    if not alerts.delete_budget(project, budget_id):
        return False
    alerts.resolve_budget_incidents(project, budget_id, now, "the budget was deleted")
    return True
