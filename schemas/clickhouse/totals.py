"""Cumulative call totals since the first call, for Prometheus counters, read from the rollups only.

A counter must only go up, across scrapes, restarts and retention. The hourly rollup holds every
hour the metrics detector rolled up, and retention deletes hours past each project's cutoff; so
before it does, `retire_hours` adds the expiring hour rows into `call_metrics_retired` (migration
0014), and a total is that carried row plus the hour rows from its `through` on. A scrape reads
~one row per hour and rollup key, never a span: it answers in milliseconds during ingest bursts.

Totals are per project and rollup key (model, provider, service, environment, shadow). The minute
rollup is recomputed when late spans arrive, so the newest hours can still grow after a scrape
read them (a counter that rises late, never one that falls); a call that a later copy moves to
another service is the one case where a key's total drops by that call (`dashboard.prometheus`
keeps the exported counter from going down).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from schemas.clickhouse.metrics import HOUR_TABLE
from schemas.clickhouse.store import Store

RETIRED_TABLE = "call_metrics_retired"
KEY_COLUMNS = ("project_id", "request_model", "provider", "service_name", "environment", "shadow")
_DECIMAL_ZERO = "toDecimal128(0, 12)"
# Money the application cache saved in an hour row: its hits at the mean cost of its priced
# uncached calls (the summary's formula, per hour and key: hours add, so the total can only grow).
_APP_SAVING = (f"if(h.priced_uncached_requests > 0, h.priced_uncached_cost * h.cache_hits "
               f"/ h.priced_uncached_requests, {_DECIMAL_ZERO})")
# The additive columns: (name, expression over an hour row `h`, how rows of it add up).
SUMS = (
    ("requests", "h.requests", "sum"), ("errors", "h.errors", "sum"), ("cache_hits", "h.cache_hits", "sum"),
    ("input_tokens", "h.input_tokens", "sum"), ("output_tokens", "h.output_tokens", "sum"),
    ("cache_read_tokens", "h.cache_read_tokens", "sum"), ("cache_write_tokens", "h.cache_write_tokens", "sum"),
    ("cost_total", "h.cost_total", "sum"), ("unpriced", "h.unpriced", "sum"),
    ("cache_read_savings", "h.cache_read_savings", "sum"), ("app_cache_savings", _APP_SAVING, "sum"),
    ("latency_le", "h.latency_le", "sumForEach"), ("latency_sum_ms", "h.latency_sum_ms", "sum"),
    ("ttft_le", "h.ttft_le", "sumForEach"), ("ttft_sum_ms", "h.ttft_sum_ms", "sum"),
)
_THROUGH = (f"(SELECT project_id, max(through) AS through FROM {{db}}.{RETIRED_TABLE} FINAL "
            "GROUP BY project_id) AS t")


def _hour_rows(condition: str) -> str:
    """Hour rows (FINAL: the newest computation of each) as total rows, where `condition` holds."""
    keys = ", ".join(f"h.{key} AS {key}" for key in KEY_COLUMNS)
    values = ", ".join(f"{expr} AS {name}" for name, expr, _ in SUMS)
    return (f"SELECT {keys}, {values} FROM {{db}}.{HOUR_TABLE} AS h FINAL "
            f"LEFT JOIN {_THROUGH} ON t.project_id = h.project_id WHERE {condition}")


def _retired_rows(condition: str) -> str:
    return (f"SELECT {', '.join(KEY_COLUMNS)}, {', '.join(name for name, _, _ in SUMS)} "
            f"FROM {{db}}.{RETIRED_TABLE} FINAL WHERE {condition}")


def _summed(rows: str, keys: tuple[str, ...]) -> str:
    values = ", ".join(f"{how}(r.{name}) AS {name}" for name, _, how in SUMS)
    return f"SELECT {', '.join(f'r.{k} AS {k}' for k in keys)}, {values} FROM ({rows}) AS r GROUP BY {', '.join(keys)}"


# Every project's totals per rollup key but the environment (Prometheus labels leave it out).
_TOTALS_KEYS = tuple(k for k in KEY_COLUMNS if k != "environment")
_TOTALS_SQL = _summed(f"{_retired_rows('1')} UNION ALL {_hour_rows('h.bucket >= t.through')}", _TOTALS_KEYS)


def call_totals(store: Store) -> list[dict[str, Any]]:
    """Per project, model, provider, service and shadow flag: every additive rollup column summed
    over all time (carried totals plus the hours after them). Shadow rows are apart, so a reader
    applies the shadow rule (spend counts them, requests and latency do not)."""
    return store.query_dicts(_TOTALS_SQL, {}, "prometheus_call_totals")


_CARRY_SQL = (
    f"INSERT INTO {{db}}.{RETIRED_TABLE} ({', '.join(KEY_COLUMNS)}, through, "
    f"{', '.join(name for name, _, _ in SUMS)}, retired_at) "
    "SELECT s.project_id, s.request_model, s.provider, s.service_name, s.environment, s.shadow, "
    "{cutoff:DateTime('UTC')}, " + ", ".join(f"s.{name}" for name, _, _ in SUMS) + ", now64(6) FROM ("
    + _summed(f"{_retired_rows('project_id = {project:String}')} UNION ALL "
              + _hour_rows("h.project_id = {project:String} AND h.bucket >= t.through "
                           "AND h.bucket < {cutoff:DateTime('UTC')}"), KEY_COLUMNS)
    + ") AS s"
)


def retire_hours(store: Store, project: str, cutoff: datetime) -> None:
    """Add `project`'s hour rows before `cutoff` into its carried totals, before retention deletes
    them; every key of the project is rewritten with `through` = cutoff. Safe to repeat: hours
    before the previous `through` were carried already and are not read again. The cutoff is
    rounded up to the second (`through` is a DateTime): an hour row retention deletes (`bucket <
    cutoff`) is then always one carried here."""
    whole = cutoff.replace(microsecond=0) + (timedelta(seconds=1) if cutoff.microsecond else timedelta())
    store.query(_CARRY_SQL, {"project": project, "cutoff": whole}, "prometheus_retire_hours")
