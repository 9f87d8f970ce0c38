"""LLM call counters and histograms per project, model, provider and service, from the call totals.

Shadow calls count as the read API counts them by default (`schemas.shadow_fields`, `split`):
their spend, tokens and prompt-cache savings count, their requests, errors, latency, TTFT and
app-cache hits do not (they answered no user); `llmpulse_llm_shadow_requests_total` counts them.
So each figure equals the summary API's (`/api/v1/metrics/summary`) over all time.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.metrics_core import Metric

from dashboard.prometheus.context import ScrapeContext
from schemas.clickhouse.histograms import BOUNDS_SECONDS
from schemas.clickhouse.rollup import WATERMARK_KEY

LABELS = ["project", "model", "provider", "service"]
TOKEN_TYPES = {"input": "input_tokens", "output": "output_tokens", "cache_read": "cache_read_tokens",
               "cache_write": "cache_write_tokens"}
# Sums that count shadow calls too (spend) and those that count the app's own calls only.
SPEND = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "cost_total", "unpriced",
         "cache_read_savings")
OWN = ("requests", "errors", "cache_hits", "app_cache_savings", "latency_sum_ms", "ttft_sum_ms")
Key = tuple[str, str, str, str]


class _Sums:
    """Totals of one label set after folding: plain sums, shadow requests, histogram counts."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = defaultdict(int)
        self.histograms: dict[str, list[int]] = {"latency_le": [], "ttft_le": []}

    def add(self, row: dict[str, Any]) -> None:
        if row["shadow"]:
            self.values["shadow_requests"] += row["requests"]
        names = SPEND if row["shadow"] else SPEND + OWN
        for name in names:
            self.values[name] += row[name]
        if not row["shadow"]:
            for name, counts in self.histograms.items():
                self.histograms[name] = _added(counts, row[name])


def _added(left: list[int], right: list[int]) -> list[int]:
    """Element-wise sum; an empty array (a row from before the histograms) adds nothing."""
    if not right:
        return left
    if not left:
        return list(right)
    return [a + b for a, b in zip(left, right, strict=True)]


def folded_totals(ctx: ScrapeContext) -> dict[Key, _Sums]:
    ranking, out = ctx.ranking(), defaultdict(_Sums)
    for row in ctx.totals():
        project = row["project_id"]
        key = (project, ranking.label(project, "model", row["request_model"]),
               ranking.label(project, "provider", row["provider"]),
               ranking.label(project, "service", row["service_name"]))
        out[key].add(row)
    return dict(out)


def call_families(ctx: ScrapeContext) -> list[Metric]:
    totals = folded_totals(ctx)
    return [_requests(totals), _shadow_requests(totals), _tokens(totals), *_money(totals),
            _histogram(totals, "latency", "llmpulse_llm_request_duration_seconds",
                       "Duration of LLM calls (the app's own, not shadow calls)"),
            _histogram(totals, "ttft", "llmpulse_llm_time_to_first_token_seconds",
                       "Time to the first token of streamed LLM calls (the app's own)"),
            _rollup_time(ctx)]


def _requests(totals: dict[Key, _Sums]) -> Metric:
    family = CounterMetricFamily("llmpulse_llm_requests", "LLM calls answered, by outcome (shadow calls apart)",
                                 labels=[*LABELS, "status"])
    for key, sums in totals.items():
        family.add_metric([*key, "ok"], sums.values["requests"] - sums.values["errors"])
        family.add_metric([*key, "error"], sums.values["errors"])
    return family


def _shadow_requests(totals: dict[Key, _Sums]) -> Metric:
    family = CounterMetricFamily("llmpulse_llm_shadow_requests",
                                 "Shadow calls (a candidate model's answer the user never saw)", labels=LABELS)
    for key, sums in totals.items():
        family.add_metric(list(key), sums.values["shadow_requests"])
    return family


def _tokens(totals: dict[Key, _Sums]) -> Metric:
    family = CounterMetricFamily("llmpulse_llm_tokens", "Tokens billed; input counts cached ones too, cache_read "
                                 "and cache_write are its parts", labels=[*LABELS, "type"])
    for key, sums in totals.items():
        for kind, column in TOKEN_TYPES.items():
            family.add_metric([*key, kind], sums.values[column])
    return family


_MONEY = (
    ("llmpulse_llm_cost_usd", "cost_total", "Spend in US dollars (priced calls; unpriced ones count apart)"),
    ("llmpulse_llm_unpriced_requests", "unpriced", "Calls with no known price (never counted as $0)"),
    ("llmpulse_llm_prompt_cache_savings_usd", "cache_read_savings",
     "Money the provider's prompt cache saved: cached tokens at the uncached input price, less what they cost"),
    ("llmpulse_llm_app_cache_hits", "cache_hits", "Calls answered from the application's own cache"),
    ("llmpulse_llm_app_cache_savings_usd", "app_cache_savings",
     "Money the application cache saved: its hits at the hour's mean cost of priced uncached calls"),
)


def _money(totals: dict[Key, _Sums]) -> Iterator[Metric]:
    for name, column, help_text in _MONEY:
        family = CounterMetricFamily(name, help_text, labels=LABELS)
        for key, sums in totals.items():
            family.add_metric(list(key), float(sums.values[column]))
        yield family


def _histogram(totals: dict[Key, _Sums], name: str, metric: str, help_text: str) -> Metric:
    family = HistogramMetricFamily(metric, help_text, labels=LABELS)
    for key, sums in totals.items():
        counts = sums.histograms[f"{name}_le"] or [0] * (len(BOUNDS_SECONDS) + 1)
        buckets = [(_le(bound), count) for bound, count in zip(BOUNDS_SECONDS, counts, strict=False)]
        family.add_metric(list(key), [*buckets, ("+Inf", counts[-1])], sums.values[f"{name}_sum_ms"] / 1000)
    return family


def _le(bound: float) -> str:
    return repr(float(bound))


def _rollup_time(ctx: ScrapeContext) -> Metric:
    """How fresh the call counters are: the metrics detector's last rollup, which holds every span
    ingested before it; alert when it stops moving."""
    family = GaugeMetricFamily("llmpulse_llm_rollup_timestamp_seconds",
                               "Unix time of the last rollup the call counters read (spans ingested before it count)")
    until = ctx.state.get(WATERMARK_KEY)
    if until:
        family.add_metric([], datetime.fromisoformat(until).timestamp())
    return family
