"""Read `/metrics` as Prometheus does, through prometheus_client's own parsers."""

from __future__ import annotations

from collections import defaultdict

import requests
from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics_families
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

OPENMETRICS = "application/openmetrics-text; version=1.0.0"


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
    answer = requests.get(ui_url + "/metrics", headers=headers, timeout=30)
    assert answer.status_code == 200, answer.text
    return Scrape(answer.text, openmetrics=answer.headers["Content-Type"].startswith("application/openmetrics"))
