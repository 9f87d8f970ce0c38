"""A/B cohorts by a declared key, read from the per-hour rollup (`cohort_hour`, migration 0015).

A comparison by an attribute key scans every call of its window: over a week of 10M spans, 4.3
CPU-s, most of it reading the attribute maps (`schemas.clickhouse.cohorts`). For the keys a project
declares (`schemas.cohort_keys`) the cohort-rollup detector keeps, per hour and value, what that scan
aggregates: the counts and sums, and a reservoir sample per metric as a mergeable state. A
comparison by such a key, without filters, reads the hours the rollup holds whole from the table
and only the rest of its window (partial hours at its edges, the newest hours) from raw spans, with
the same aggregates as states, and merges both: counts and sums add, samples merge (-Merge). The
scores are read as the scan reads them (on the evaluation rows' copies of the span facts).

What it answers is the scan's answer: the same calls (live, not shadow, a span's own attribute
before its resource's, redelivered spans once), so the same counts and money to the last digit. A
cohort's sample is the scan's when it has at most SAMPLE_SIZE values of a metric (then it holds
them all). A larger cohort's sample is a merge of per-hour reservoirs: each of its values is drawn
from an hour with that hour's share of the values, as the scan's own threads merge theirs, so the
percentiles and tests are those of another random sample of the same size (a p-value moves as it
does between two scans, whose samples also differ from run to run: bench_cohorts.py). A filter
(model, service, ...) is not a rollup key: a filtered comparison scans. The rollup is as fresh as
the detector's last run: a span arriving for an hour already rolled counts from the next run on
(as in the metrics rollup).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from schemas.clickhouse.cohorts import (
    COUNTS,
    LIVE_CALLS,
    SAMPLE_SEED,
    SAMPLE_SIZE,
    SAMPLES,
    SHADOW_CALL,
    Cohorts,
    by_side,
    call_aggregates,
    call_conditions,
    cohort_calls,
    cohort_label,
    with_holding_maps,
    with_scores,
)
from schemas.clickhouse.metrics import RollupSpan
from schemas.clickhouse.rollup import MarkReader
from schemas.clickhouse.store import Store
from schemas.experiment_fields import EXPERIMENT_ENVIRONMENT
from schemas.times import ceil_hour, floor_hour

COHORT_TABLE = "cohort_hour"
SCAN, ROLLUP = "scan", "rollup"  # which read answered a comparison
MARKS_PREFIX = "cohorts.rollup."  # + project: what the table holds of it (`RolledKeys`), in detector state
_STATE_COLUMNS = (*COUNTS, *SAMPLES)
_SAMPLE_TYPE = f"groupArraySample({SAMPLE_SIZE}, {SAMPLE_SEED})"


@dataclass(frozen=True)
class RolledKeys:
    """What the rollup holds whole of one project: for each declared key, the hours from its floor
    up to `until` (a key declared later holds fewer hours until the backfill reaches it); `checked`
    is when the detector last looked for spans ingested since (None before its first run)."""

    floors: dict[str, datetime]
    until: datetime
    checked: datetime | None = None

    def held(self, key: str) -> RollupSpan | None:
        floor = self.floors.get(key)
        return RollupSpan(floor, self.until) if floor is not None and floor < self.until else None

    def for_keys(self, keys: Sequence[str]) -> RolledKeys:
        """The same marks for the keys declared now: a new key holds no hour yet."""
        return replace(self, floors={key: self.floors.get(key, self.until) for key in keys})

    def to_text(self) -> str:
        return json.dumps({"floors": {k: v.isoformat() for k, v in self.floors.items()},
                           "until": self.until.isoformat(), "checked": self.checked and self.checked.isoformat()})

    @classmethod
    def from_text(cls, text: str) -> RolledKeys:
        data = json.loads(text)
        return cls({k: datetime.fromisoformat(v) for k, v in data["floors"].items()},
                   datetime.fromisoformat(data["until"]),
                   datetime.fromisoformat(data["checked"]) if data["checked"] else None)


def rolled_keys(marks: MarkReader, project: str) -> RolledKeys | None:
    text = marks.get(MARKS_PREFIX + project)
    return RolledKeys.from_text(text) if text else None


def held_hours(marks: MarkReader, project: str, key: str) -> RollupSpan | None:
    """The hours whose cohorts by `key` the rollup holds whole (None: the key is not rolled up)."""
    rolled = rolled_keys(marks, project)
    return rolled.held(key) if rolled else None


# --- reads ---------------------------------------------------------------------------------------


def read_cohort_calls(store: Store, cohorts: Cohorts, held: RollupSpan | None) -> tuple[dict[str, dict[str, Any]], str]:
    """`cohorts.cohort_calls`' answer, and which read gave it: the rollup's hours `held` of the
    cohorts' key, with raw spans for the rest of the window, or a scan of every call of it."""
    hours = rolled_hours(cohorts, held)
    if hours is None:
        return cohort_calls(store, cohorts), SCAN
    probed = with_holding_maps(store, cohorts)  # the raw edges read only the maps holding the key
    if probed is None:
        return {}, ROLLUP
    params = {**probed.params(), "rolled_from": hours[0], "rolled_to": hours[1]}
    found = by_side(store.query_dicts(_rolled_calls_sql(probed), params, "cohort_rollup_calls"))
    return with_scores(store, probed, found), ROLLUP


def rolled_hours(cohorts: Cohorts, held: RollupSpan | None) -> tuple[datetime, datetime] | None:
    """The whole hours of the window the rollup may answer: only for an attribute key it holds,
    without filters (they are not rollup keys); None when no whole hour is held."""
    if held is None or cohorts.kind != "attribute" or cohorts.filters:
        return None
    start, end = max(ceil_hour(cohorts.start), held.start), min(floor_hour(cohorts.end), held.end)
    return (start, end) if start < end else None


def _rolled_calls_sql(cohorts: Cohorts) -> str:
    """Per cohort label, the rolled hours' states merged with those of the window's other calls."""
    picked = ", ".join(f"r.{name} AS {name}" for name in _STATE_COLUMNS)
    rolled = (f"SELECT multiIf(r.value = {{a:String}}, 1, r.value = {{b:String}}, 2, 0) AS cohort, {picked} "
              f"FROM {{db}}.{COHORT_TABLE} AS r FINAL WHERE r.project_id = {{project:String}} "
              "AND r.key = {key:String} AND r.value IN ({a:String}, {b:String}) AND r.requests > 0 "
              "AND r.bucket >= {rolled_from:DateTime('UTC')} AND r.bucket < {rolled_to:DateTime('UTC')}")
    edges = (f"SELECT *, {cohort_label(cohorts)} AS cohort FROM {{db}}.spans AS s FINAL "
             f"WHERE {call_conditions(cohorts)} AND (s.start_time < {{rolled_from:DateTime64(6, 'UTC')}} "
             "OR s.start_time >= {rolled_to:DateTime64(6, 'UTC')})")
    raw = f"SELECT cohort, {call_aggregates('State')} FROM ({edges}) AS s WHERE cohort != 0 GROUP BY cohort"
    merged = [*(f"sum(r.{name}) AS {name}" for name in COUNTS),
              *(f"{_SAMPLE_TYPE.replace('(', 'Merge(', 1)}(r.{name}) AS {name}" for name in SAMPLES)]
    return f"SELECT r.cohort AS cohort, {', '.join(merged)} FROM ({rolled} UNION ALL {raw}) AS r GROUP BY cohort"


# --- maintenance (the cohort-rollup detector) -----------------------------------------------------

# The value of each declared key on a call `s`, the span's own attribute before its resource's (as
# `cohorts.cohort_value`), for the keys the call carries: one row per (key, value) after ARRAY JOIN.
_KEY_VALUES = ("arrayFilter(kv -> kv.2 != '', arrayMap(k -> (k, if(mapContains(s.attributes, k), s.attributes[k], "
               "s.resource_attributes[k])), {keys:Array(String)}))")
_ROLLED_CALLS = ("s.project_id = {project:String} AND s.is_call AND " + LIVE_CALLS + f" AND NOT {SHADOW_CALL} "
                 "AND s.start_time >= {start:DateTime64(6, 'UTC')} AND s.start_time < {end:DateTime64(6, 'UTC')}")
_IN_HOURS = "toStartOfHour({alias}.{column}) IN {{hours:Array(DateTime('UTC'))}}"
# A day of a busy key's values holds a reservoir per hour and value: past this the GROUP BY spills.
_GROUP_BY_BYTES = 128 * 2**20
_COLUMN_LIST = f"project_id, key, bucket, value, {', '.join(_STATE_COLUMNS)}, computed_at"


def _recompute_sql(some_hours: bool) -> str:
    where = _ROLLED_CALLS + (" AND " + _IN_HOURS.format(alias="s", column="start_time") if some_hours else "")
    return (f"INSERT INTO {{db}}.{COHORT_TABLE} ({_COLUMN_LIST}) SELECT {{project:String}}, kv.1 AS key, "
            f"toStartOfHour(s.start_time) AS bucket, kv.2 AS value, {call_aggregates('State')}, now64(6) "
            f"FROM {{db}}.spans AS s FINAL ARRAY JOIN {_KEY_VALUES} AS kv WHERE {where} "
            f"GROUP BY key, bucket, value SETTINGS max_bytes_before_external_group_by = {_GROUP_BY_BYTES}")


# Rows of recomputed hours that the recomputation did not write again (a value no call of the hour
# holds any more, a key no longer declared): counts and money 0, empty samples, newer than the row.
_EMPTY_STATES = ", ".join(["0", "0", "0", "toDecimal128(0, 12)", "0", "0"]
                          + [f"{_SAMPLE_TYPE.replace('(', 'StateIf(', 1)}(toFloat64(0), 0)"] * len(SAMPLES))


def _zero_stale_sql(some_hours: bool) -> str:
    hours = " AND " + _IN_HOURS.format(alias="r", column="bucket") if some_hours else ""
    return (f"INSERT INTO {{db}}.{COHORT_TABLE} ({_COLUMN_LIST}) SELECT r.project_id, r.key, r.bucket, r.value, "
            f"{_EMPTY_STATES}, now64(6) FROM {{db}}.{COHORT_TABLE} AS r FINAL "
            "WHERE r.project_id = {project:String} AND r.bucket >= {start:DateTime64(6, 'UTC')} "
            f"AND r.bucket < {{end:DateTime64(6, 'UTC')}}{hours} AND r.requests > 0 "
            "AND r.computed_at < {recomputed:DateTime64(6, 'UTC')} GROUP BY r.project_id, r.key, r.bucket, r.value")


def roll_hours(store: Store, project: str, keys: Sequence[str], start: datetime, end: datetime,
               hours: Sequence[datetime] = ()) -> None:
    """Recompute, whole, the hours of [start, end) (only those in `hours`, when given) for `keys`.

    The table's rows of those hours that this does not write again are zeroed: its own clock
    (ClickHouse's, which stamps the rows) tells them apart, so a detector host's clock never can."""
    recomputed = store.query("SELECT now64(6)", {}, "cohort_rollup_clock")[0][0]
    params = {"project": project, "keys": list(keys), "start": start, "end": end,
              "experiment_environment": EXPERIMENT_ENVIRONMENT, "recomputed": recomputed,
              **({"hours": list(hours)} if hours else {})}
    store.query(_recompute_sql(bool(hours)), params, "cohort_rollup_hours")
    store.query(_zero_stale_sql(bool(hours)), params, "cohort_rollup_zero_stale")


def touched_hours(store: Store, project: str, since: datetime, start: datetime,
                  end: datetime) -> list[tuple[datetime, int]]:
    """The hours of [start, end) holding a call of `project` ingested since `since` (late spans and
    redeliveries), with how many such spans each."""
    sql = ("SELECT toStartOfHour(start_time) AS hour, count() FROM {db}.spans WHERE project_id = {project:String} "
           "AND is_call AND ingested_at > {since:DateTime64(6, 'UTC')} AND start_time >= {start:DateTime64(6, 'UTC')} "
           "AND start_time < {end:DateTime64(6, 'UTC')} GROUP BY hour ORDER BY hour")
    rows = store.query(sql, {"project": project, "since": since, "start": start, "end": end}, "cohort_rollup_touched")
    return [(hour.replace(tzinfo=UTC), int(count)) for hour, count in rows]


def has_calls_before(store: Store, project: str, moment: datetime) -> bool:
    """Whether `project` has a call older than `moment` (history the rollup does not hold yet)."""
    sql = ("SELECT 1 FROM {db}.spans WHERE project_id = {project:String} AND is_call "
           "AND start_time < {moment:DateTime64(6, 'UTC')} LIMIT 1")
    return bool(store.query(sql, {"project": project, "moment": moment}, "cohort_rollup_history"))

