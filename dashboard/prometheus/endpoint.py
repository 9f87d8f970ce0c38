"""`GET /metrics`: the Prometheus text format, or OpenMetrics when the scraper asks for it.

Content negotiation and rendering are prometheus_client's own (`choose_encoder`, the encoders it
returns), so the exposition is exactly what its parser and Prometheus read. Access follows the
UI's: open on loopback; off loopback a login or an API token (`Authorization: Bearer lpt_…`,
any role), which is how a Prometheus server authenticates (`authorization:` in its scrape config).
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, request
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder, gzip_accepted

from dashboard.prometheus.context import LiveIngest, ScrapeContext, no_live_ingest
from dashboard.prometheus.scrape import BUDGET_SECONDS, CounterGuard, Scraper
from schemas.clickhouse.store import Store
from schemas.metadata.models import utcnow
from schemas.metadata.runs import StateStore
from schemas.metadata.store import Metadata

METRICS_PATH = "/metrics"
DEFAULT_TOP_N = 20


@dataclass(frozen=True)
class PrometheusSettings:
    """`top_n`: models, providers and services named per project (the rest `other`); `live_ingest`:
    this process's collector, read live (embedded mode); `budget_seconds`: a scrape's time budget."""

    top_n: int = DEFAULT_TOP_N
    live_ingest: LiveIngest = no_live_ingest
    budget_seconds: float = BUDGET_SECONDS


def install_metrics(app: Flask, store: Store, metadata: Metadata, detectors: tuple[str, ...],
                    settings: PrometheusSettings) -> Scraper:
    """Serve /metrics on `app`; scrape queries run as background work (they yield to ingest)."""
    reads = store.background()
    scraper = Scraper(lambda: ScrapeContext(reads, metadata, utcnow(), settings.top_n, detectors,
                                            settings.live_ingest),
                      CounterGuard(StateStore(metadata)), budget_seconds=settings.budget_seconds)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(scraper)
    app.add_url_rule(METRICS_PATH, "metrics", lambda: exposition(registry))
    app.extensions["llmpulse.scraper"] = scraper
    return scraper


def exposition(registry: CollectorRegistry) -> Any:
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    body = encoder(registry)
    headers = {"Cache-Control": "no-store"}
    if gzip_accepted(request.headers.get("Accept-Encoding", "")):
        body, headers["Content-Encoding"] = gzip.compress(body, compresslevel=1), "gzip"
    return Response(body, content_type=content_type, headers=headers)
