"""Gauges of answer quality and spend: the hallucination rate over the last hour and day, and each
budget's use as the alerts detector last computed it (never recomputed from calls here)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from dashboard.prometheus.context import ScrapeContext
from detectors.alerts.budget_spend import saved_statuses
from schemas.clickhouse.quality import hallucination_by_model
from schemas.metadata.alert_store import budget_ids

# A rate over a sliding window is a gauge (a later label can flip a verdict, so no counter holds it).
WINDOWS = {"1h": timedelta(hours=1), "24h": timedelta(hours=24)}
BUDGET_LABELS = ["project", "budget", "period"]


def hallucination_families(ctx: ScrapeContext) -> list[Metric]:
    labels = ["project", "model", "window"]
    rate = GaugeMetricFamily("llmpulse_llm_hallucination_rate", "Share of scored calls judged hallucinated "
                             "(one verdict a call, the most authoritative); see the scored count", labels=labels)
    scored = GaugeMetricFamily("llmpulse_llm_hallucination_scored_calls", "Calls scored in the window", labels=labels)
    flagged = GaugeMetricFamily("llmpulse_llm_hallucination_flagged_calls", "Scored calls judged hallucinated",
                                labels=labels)
    ranking = ctx.ranking()
    for window, length in WINDOWS.items():
        counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
        for row in hallucination_by_model(ctx.store, ctx.now - length, ctx.now):
            key = (row["project_id"], ranking.label(row["project_id"], "model", row["request_model"]))
            counts[key][0] += row["sampled"]
            counts[key][1] += row["flagged"]
        for (project, model), (sampled, hits) in sorted(counts.items()):
            scored.add_metric([project, model, window], sampled)
            flagged.add_metric([project, model, window], hits)
            rate.add_metric([project, model, window], hits / sampled)
    return [rate, scored, flagged]


_BUDGET_GAUGES = (
    ("llmpulse_budget_used_ratio", "Spend of the budget's current period over its amount (1 = all spent)"),
    ("llmpulse_budget_spent_usd", "Spend of the budget's current period"),
    ("llmpulse_budget_limit_usd", "The budget's amount per period"),
    ("llmpulse_budget_projected_usd", "Spend expected at the period's end at the recent burn rate"),
    ("llmpulse_budget_allowed", "1 while the budget's kill switch lets calls through, 0 once it is spent"),
    ("llmpulse_budget_status_timestamp_seconds", "When the alerts detector computed these budget figures"),
)


def budget_families(ctx: ScrapeContext) -> list[Metric]:
    """Every budget that still exists, from the alerts detector's last run (its filters are not
    labels: one may name a user)."""
    families = {name: GaugeMetricFamily(name, text, labels=BUDGET_LABELS) for name, text in _BUDGET_GAUGES}
    existing = budget_ids(ctx.metadata)
    for budget, status in sorted(saved_statuses(ctx.state).items()):
        if budget not in existing:
            continue
        labels = [status["project"], str(budget), status["period"]]
        spent, limit = float(status["spent_exact"]), float(status["budget_exact"])
        values = {"llmpulse_budget_used_ratio": spent / limit, "llmpulse_budget_spent_usd": spent,
                  "llmpulse_budget_limit_usd": limit,
                  "llmpulse_budget_projected_usd": float(status["projected_exact"]),
                  "llmpulse_budget_allowed": 1.0 if status["allowed"] else 0.0,
                  "llmpulse_budget_status_timestamp_seconds": datetime.fromisoformat(status["computed_at"]).timestamp()}
        for name, value in values.items():
            families[name].add_metric(labels, value)
    return list(families.values())
