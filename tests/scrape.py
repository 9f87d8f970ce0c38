"""Read `/metrics` as Prometheus does, through prometheus_client's own parsers."""

from __future__ import annotations

import time
from collections import defaultdict

import requests
from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics_families
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

OPENMETRICS = "application/openmetrics-text; version=1.0.0"
FRESH_WITHIN_SECONDS = 60


class Scrape:
    """Samples by name; `value` sums those whose labels include the given ones."""

    def __init__(self, text: str, openmetrics: bool = False) -> None:
        parse = openmetrics_families if openmetrics else text_string_to_metric_families
        self.families = {family.name: family for family in parse(text)}
        self.samples: dict[str, list[Sample]] = defaultdict(list)
        for family in self.families.values():
            for sample in family.samples:
                self.samples[sample.name].append(sample)

    def value(self, name: str, **labels: str) -> float:
        return sum(s.value for s in self.matching(name, **labels))

    def matching(self, name: str, **labels: str) -> list[Sample]:
        return [s for s in self.samples.get(name, []) if all(s.labels.get(k) == v for k, v in labels.items())]

    def label_values(self, name: str, label: str) -> set[str]:
        return {s.labels[label] for s in self.samples.get(name, []) if label in s.labels}


def scrape(ui_url: str, **headers: str) -> Scrape:
    """A scrape whose every source is fresh: a source that overran the scrape's time budget (a loaded
    machine) is served from its previous figures and marked stale, so ask again until none is."""
    deadline = time.monotonic() + FRESH_WITHIN_SECONDS
    while True:
        answer = requests.get(ui_url + "/metrics", headers=headers, timeout=30)
        assert answer.status_code == 200, answer.text
        result = Scrape(answer.text, openmetrics=answer.headers["Content-Type"].startswith("application/openmetrics"))
        stale = [s.labels["source"] for s in result.matching("llmpulse_scrape_source_stale") if s.value]
        if not stale:
            return result
        assert time.monotonic() < deadline, f"sources still stale after {FRESH_WITHIN_SECONDS} s: {stale}"
        time.sleep(0.2)
