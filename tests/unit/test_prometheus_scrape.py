"""The scrape's parts alone: bounded labels, counters that never fall, a time budget that serves a
late source's last figures instead of waiting, and the collector's own counters."""

from __future__ import annotations

import threading

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily
from prometheus_client.metrics_core import Metric

from collector.errors import Overloaded, UnsupportedMediaType
from collector.ingest_stats import IngestStats
from dashboard.prometheus.labels import OTHER, Ranking, busiest
from dashboard.prometheus.scrape import CounterGuard, Scraper
from dashboard.prometheus.sources import Source
from schemas.metadata.ingest_reports import INSERT_SECONDS, RECEIVED, REFUSED
from tests.memory_state import MemoryState
from tests.scrape import Scrape


def test_the_busiest_values_keep_their_names_and_ties_go_by_name() -> None:
    assert busiest({"a": 1, "b": 5, "c": 5, "d": 2}, 2) == {"b", "c"}
    assert busiest({"a": 1, "b": 1, "c": 1}, 2) == {"a", "b"}
    assert busiest({"a": 1}, 20) == {"a"}
    ranking = Ranking([("p", {"model": "x", "service": "s1"}, 10), ("p", {"model": "y", "service": "s1"}, 3),
                       ("p", {"model": "z", "service": "s2"}, 5), ("q", {"model": "y", "service": "s"}, 1)], 2)
    assert [ranking.label("p", "model", m) for m in ("x", "y", "z")] == ["x", OTHER, "z"]
    assert ranking.label("q", "model", "y") == "y"  # per project
    assert ranking.label("q", "model", "never-seen") == OTHER


def counter(value: float, **labels: str) -> Metric:
    family = CounterMetricFamily("llmpulse_test", "a test counter", labels=list(labels))
    family.add_metric(list(labels.values()), value)
    return family




def exported(guard: CounterGuard, value: float, model: str = "other") -> float:
    (family,) = guard.apply([counter(value, model=model)])
    return family.samples[0].value


def test_a_counter_that_falls_goes_on_from_where_it_was_also_after_a_restart() -> None:
    state = MemoryState()
    guard = CounterGuard(state)  # type: ignore[arg-type]
    assert [exported(guard, v) for v in (10, 12, 7, 9)] == [10, 12, 12, 14]  # fell by 5: offset 5
    assert exported(guard, 3, model="gpt-4o") == 3  # another series is apart
    restarted = CounterGuard(state)  # type: ignore[arg-type]
    assert exported(restarted, 10) == 15  # the offset was kept in the metadata DB


def test_a_late_source_is_served_from_its_last_figures_without_waiting_for_it() -> None:
    release, calls = threading.Event(), []

    def slow(ctx: object) -> list[Metric]:
        calls.append(1)
        if len(calls) > 1:
            release.wait(30)
        return [counter(len(calls), model="other")]

    fast = Source("fast", lambda ctx: [counter(1, model="fast")])
    sources = (Source("slow", slow), fast)
    scraper = Scraper(lambda: None, CounterGuard(None), sources, budget_seconds=30)  # type: ignore[arg-type]
    registry = CollectorRegistry(auto_describe=False)
    registry.register(scraper)
    try:
        first = Scrape(generate_latest(registry).decode())  # the first run of each is quick
        assert first.value("llmpulse_scrape_source_stale", source="slow") == 0
        assert first.value("llmpulse_test_total", model="fast") == 1
        scraper.budget = 0.05
        second = Scrape(generate_latest(registry).decode())  # slow now blocks: its last figures, marked stale
        assert second.value("llmpulse_scrape_source_stale", source="slow") == 1
        assert second.value("llmpulse_scrape_source_stale", source="fast") == 0
        assert second.value("llmpulse_test_total", model="other") == 1
        third = Scrape(generate_latest(registry).decode())  # still running: not started a second time
        assert third.value("llmpulse_test_total", model="other") == 1 and len(calls) == 2
    finally:
        release.set()
        scraper.close()


def test_collector_counts_go_on_from_the_last_report() -> None:
    stats = IngestStats()
    stats.accepted("traces", 5, 1)
    stats.refused(Overloaded("full"))
    stats.refused(UnsupportedMediaType("no"))
    stats.inserted("spans", 5, 0.02)
    report = stats.snapshot()
    assert sum(report["counters"][RECEIVED].values()) == 5
    assert sorted(report["counters"][REFUSED].values()) == [1, 1]
    restored = IngestStats(report)
    restored.accepted("traces", 2, 0)
    restored.inserted("spans", 2, 3.0)
    again = restored.snapshot()
    assert sum(again["counters"][RECEIVED].values()) == 7
    histogram = again["histograms"][INSERT_SECONDS]
    assert histogram["counts"][-1] == 2 and histogram["counts"][histogram["bounds"].index(0.025)] == 1
    assert histogram["sum"] == 3.02
