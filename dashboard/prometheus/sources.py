"""The registry of metric sources: each is a name and a function of the scrape's context that
returns metric families. A new part adds its function here (controls.py: guards and SLOs);
the scrape runs each on its own, within the scrape's time budget (scrape.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client.metrics_core import Metric

from dashboard.prometheus.calls import call_families
from dashboard.prometheus.context import ScrapeContext
from dashboard.prometheus.controls import guard_families, slo_families
from dashboard.prometheus.health import detector_families, ingest_families
from dashboard.prometheus.quality import budget_families, hallucination_families


@dataclass(frozen=True)
class Source:
    name: str
    collect: Callable[[ScrapeContext], list[Metric]]


SOURCES: tuple[Source, ...] = (
    Source("calls", call_families),
    Source("hallucination", hallucination_families),
    Source("budgets", budget_families),
    Source("guards", guard_families),
    Source("slos", slo_families),
    Source("ingest", ingest_families),
    Source("detectors", detector_families),
)
