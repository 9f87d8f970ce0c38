"""Alert rules as data: the metric table, payload validation, and the comparison.

Pure on purpose: the HTTP layer calls `parse_rule` / `merge_rule` and maps `AlertInputError`
to a 400 in one place, the evaluator calls `evaluate`, and nothing here touches a database,
so every refusal message is unit-tested word for word. Validation stops at the first problem
and names its field, so a form can highlight it and the message says what would be accepted.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import timedelta
from types import MappingProxyType
from typing import Any

USD, MS, RATIO, PCT, COUNT = "usd", "ms", "ratio", "pct", "count"
UNITS = (USD, MS, RATIO, PCT, COUNT)


class AlertInputError(ValueError):
    """Alert or budget input the API refuses; `field` names the offending key for the client."""

    status = 400

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class RuleError(AlertInputError):
    """An alert rule payload that cannot be stored as sent."""


@dataclass(frozen=True)
class MetricInfo:
    """What a metric measures, so thresholds can be checked and shown with their unit."""

    name: str
    unit: str
    description: str
    lower_is_worse: bool = False


def _metric_table(*infos: MetricInfo) -> Mapping[str, MetricInfo]:
    return MappingProxyType({info.name: info for info in infos})


METRICS: Mapping[str, MetricInfo] = _metric_table(
    MetricInfo("cost_total", USD, "Spend in the window, in US dollars."),
    MetricInfo("budget_used_pct", PCT, "Share of the period's budget spent so far, 0..100 and beyond."),
    MetricInfo("projected_spend", USD, "Forecast spend at the end of the budget period."),
    MetricInfo("latency_p95_ms", MS, "95th percentile of LLM call duration."),
    MetricInfo("latency_p99_ms", MS, "99th percentile of LLM call duration."),
    MetricInfo("ttft_p95_ms", MS, "95th percentile of time to first token of streamed calls."),
    MetricInfo("error_rate", RATIO, "Fraction of LLM calls that failed, 0..1."),
    MetricInfo("hallucination_rate", RATIO, "Fraction of scored answers judged hallucinated, 0..1."),
    MetricInfo("cache_hit_rate", RATIO, "Fraction of calls served from a cache, 0..1; a drop is bad.", True),
    MetricInfo("cost_per_request", USD, "Mean spend per LLM call in the window."),
    MetricInfo("drift", COUNT, "Number of drift events detected in the window."),
    MetricInfo("parse_failure_rate", RATIO,
               "Fraction of calls that asked for JSON (or called a tool) whose answer was not valid JSON or broke "
               "the schema, 0..1."),
    MetricInfo("refusal_rate", RATIO, "Fraction of LLM calls the model refused to answer, 0..1."),
    MetricInfo("truncation_rate", RATIO, "Fraction of LLM calls whose answer stopped at the token limit, 0..1."),
    MetricInfo("tool_error_rate", RATIO, "Fraction of LLM calls that were handed a failed tool result, 0..1."),
)

COMPARATORS: Mapping[str, Callable[[float, float], bool]] = MappingProxyType(
    {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}
)
SEVERITIES = ("critical", "error", "warning", "info")
DEFAULT_SEVERITY = "warning"
FILTER_KEYS = ("model", "provider", "service", "environment", "user", "session", "tag")

ZERO = timedelta(0)
MAX_DURATION = timedelta(days=366)  # beyond any setting, and far from timedelta overflow
MIN_WINDOW, MAX_WINDOW = timedelta(minutes=1), timedelta(days=31)
MAX_FOR = timedelta(days=7)
MIN_RENOTIFY, MAX_RENOTIFY = timedelta(minutes=1), timedelta(days=7)
MAX_NAME = 200
MAX_DESCRIPTION = 2000
MAX_FILTER_VALUE = 200

RULE_FIELDS = ("name", "metric", "comparator", "threshold", "window", "for", "severity", "filters",
               "channels", "enabled", "renotify", "description")
# What a GET returns beside the rule itself; ignored so a client can PUT back what it read.
READ_ONLY_FIELDS = frozenset({"id", "project", "created_at", "updated_at"})

_DURATION = re.compile(r"(\d{1,9})([smhdw])")
_UNIT_SECONDS = MappingProxyType({"w": 604_800, "d": 86_400, "h": 3_600, "m": 60, "s": 1})
_DURATION_HINT = 'use a whole number followed by s, m, h, d or w, e.g. "30s", "5m", "1h", "2d", "1w"'


@dataclass(frozen=True)
class RuleSpec:
    """A validated rule; filters are sorted (key, value) pairs so specs hash and compare."""

    name: str
    metric: str
    comparator: str
    threshold: float
    window: timedelta
    for_duration: timedelta = ZERO
    severity: str = DEFAULT_SEVERITY
    filters: tuple[tuple[str, str], ...] = ()
    channels: tuple[int, ...] = ()
    enabled: bool = True
    renotify: timedelta = timedelta(hours=4)  # 0 means never re-notify
    description: str = ""

    @property
    def filter_map(self) -> dict[str, str]:
        return dict(self.filters)

    def to_json(self) -> dict[str, Any]:
        """The API shape; `parse_rule(spec.to_json())` gives the same spec back."""
        return {
            "name": self.name, "metric": self.metric, "comparator": self.comparator,
            "threshold": self.threshold, "window": format_duration(self.window),
            "for": format_duration(self.for_duration), "severity": self.severity,
            "filters": self.filter_map, "channels": list(self.channels), "enabled": self.enabled,
            "renotify": format_duration(self.renotify), "description": self.description,
        }


def parse_duration(text: Any, field: str = "duration") -> timedelta:
    """Read a compact duration ("30s", "5m", "1h", "2d", "1w", "0s") as Prometheus writes them.

    One number and one unit only: "1h30m" is refused rather than half-read ("90m" says it),
    so a typo never silently becomes a different window.
    """
    if not isinstance(text, str):
        raise RuleError(f"{field} must be a text duration; {_DURATION_HINT}", field)
    if text.strip().startswith("-"):
        raise RuleError(f"{field} {text!r} is negative; {_DURATION_HINT}", field)
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise RuleError(f"{field} {text!r} is not a duration; {_DURATION_HINT}", field)
    seconds = int(match[1]) * _UNIT_SECONDS[match[2]]
    if seconds > MAX_DURATION.total_seconds():  # checked before timedelta can overflow
        raise RuleError(f"{field} {text!r} is longer than {format_duration(MAX_DURATION)}", field)
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The compact text for a duration, in the largest unit that divides it exactly."""
    seconds = int(value.total_seconds())
    for unit, size in _UNIT_SECONDS.items():
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return "0s"


def parse_rule(payload: Any, *, known_channels: Collection[int], default_renotify: timedelta) -> RuleSpec:
    """Validate a POST/PUT body into a `RuleSpec`, or raise `RuleError` for its first problem."""
    body = check_object(payload, RULE_FIELDS)
    name = check_name(body.get("name"))
    metric = _parse_metric(body.get("metric"))
    return RuleSpec(
        name=name,
        metric=metric,
        comparator=_parse_choice(body, "comparator", tuple(COMPARATORS), None),
        threshold=_parse_threshold(body.get("threshold"), METRICS[metric]),
        window=_parse_bounded(body, "window", (MIN_WINDOW, MAX_WINDOW), None),
        for_duration=_parse_bounded(body, "for", (ZERO, MAX_FOR), ZERO),
        severity=_parse_choice(body, "severity", SEVERITIES, DEFAULT_SEVERITY),
        filters=check_filters(body.get("filters"), FILTER_KEYS),
        channels=check_channels(body.get("channels"), known_channels),
        enabled=_parse_bool(body, "enabled", True),
        renotify=_parse_renotify(body, default_renotify),
        description=_parse_text(body, "description", MAX_DESCRIPTION),
    )


def stored_rule(spec: Mapping[str, Any], default_renotify: timedelta) -> RuleSpec:
    """A rule as stored; its channels are trusted, they were checked when it was saved (a channel
    in use cannot be deleted since)."""
    return parse_rule(spec, known_channels=set(spec.get("channels") or ()), default_renotify=default_renotify)


def merge_rule(existing: RuleSpec, patch: Any, *, known_channels: Collection[int],
               default_renotify: timedelta | None = None) -> RuleSpec:
    """Apply a full or partial update with the same validation as a new rule.

    A key present in `patch` replaces that field whole (filters are not deep-merged); a key set
    to null goes back to its default (a required one is then reported missing).
    """
    if not isinstance(patch, Mapping):
        raise RuleError("the body must be a JSON object", "")
    merged = {key: value for key, value in {**existing.to_json(), **patch}.items() if value is not None}
    renotify = existing.renotify if default_renotify is None else default_renotify
    return parse_rule(merged, known_channels=known_channels, default_renotify=renotify)


def compare(comparator: str, value: float, threshold: float) -> bool:
    """True when `value` breaches `threshold`; NaN never breaches (it is no data, not a failure)."""
    try:
        check = COMPARATORS[comparator]
    except KeyError:
        raise RuleError(_choice_message("comparator", comparator, tuple(COMPARATORS)), "comparator") from None
    return not math.isnan(value) and check(value, threshold)


def evaluate(rule: RuleSpec, value: float | None) -> bool | None:
    """The `breached` input of `incidents.step`: None when the window had no data."""
    if value is None or math.isnan(value):
        return None
    return compare(rule.comparator, value, rule.threshold)


# Validators shared with budgets: `error` picks the error class the caller reports.

def check_object(payload: Any, accepted: tuple[str, ...], *,
                 error: type[AlertInputError] = RuleError) -> Mapping[str, Any]:
    """The body must be an object with known keys: a misspelt key is refused, not ignored."""
    if not isinstance(payload, Mapping):
        raise error("the body must be a JSON object", "")
    for key in payload:
        if key not in accepted and key not in READ_ONLY_FIELDS:
            raise error(f"unknown field {key!r}; accepted: {', '.join(accepted)}", str(key))
    return payload


def check_name(value: Any, *, error: type[AlertInputError] = RuleError) -> str:
    if not isinstance(value, str) or not value.strip():
        raise error("name is required: a non-empty text", "name")
    if len(value.strip()) > MAX_NAME:
        raise error(f"name is too long: at most {MAX_NAME} characters", "name")
    return value.strip()


def check_filters(value: Any, keys: tuple[str, ...], *,
                  error: type[AlertInputError] = RuleError) -> tuple[tuple[str, str], ...]:
    """Filters scope a rule or budget; only keys the queries understand, with text values."""
    if value is None:
        return ()
    if not isinstance(value, Mapping):
        raise error('filters must be an object such as {"model": "gpt-4o"}', "filters")
    for key, item in value.items():
        if key not in keys:
            raise error(f"filters: unknown key {key!r}; accepted: {', '.join(keys)}", "filters")
        if not isinstance(item, str) or not item.strip() or len(item) > MAX_FILTER_VALUE:
            raise error(f"filters.{key} must be a non-empty text of at most {MAX_FILTER_VALUE} characters",
                        f"filters.{key}")
    return tuple(sorted((key, item.strip()) for key, item in value.items()))


def check_channels(value: Any, known: Collection[int], *,
                   error: type[AlertInputError] = RuleError) -> tuple[int, ...]:
    """Channel ids must exist now, so a rule never fires into nowhere; duplicates are dropped."""
    if value is None:
        return ()
    if not isinstance(value, list | tuple):
        raise error("channels must be a list of channel ids, e.g. [1, 2]", "channels")
    ids: list[int] = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int):
            raise error(f"channels: {item!r} is not a channel id (a whole number)", "channels")
        if item not in known:
            raise error(f"channel {item} does not exist; {_known_channels(known)}", "channels")
        if item not in ids:
            ids.append(item)
    return tuple(ids)


def _known_channels(known: Collection[int]) -> str:
    if not known:
        return "create a channel first"
    return "known channels: " + ", ".join(str(item) for item in sorted(known))


def _parse_metric(value: Any) -> str:
    if value is None:
        raise RuleError(f"metric is required; known metrics: {', '.join(METRICS)}", "metric")
    if not isinstance(value, str) or value not in METRICS:
        raise RuleError(f"unknown metric {value!r}; known metrics: {', '.join(METRICS)}", "metric")
    return value


def _parse_threshold(value: Any, info: MetricInfo) -> float:
    """Finite, not negative (no metric is), and a fraction for rates: 5 % is 0.05, not 5."""
    if value is None:
        raise RuleError(f"threshold is required: a number in {info.unit}", "threshold")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RuleError(f"threshold must be a number, not {value!r}", "threshold")
    try:
        number = float(value)
    except OverflowError:  # an integer too large for a float
        number = math.inf
    if not math.isfinite(number):
        raise RuleError("threshold must be a finite number", "threshold")
    if number < 0:
        raise RuleError(f"threshold must be 0 or more: {info.name} is never negative", "threshold")
    if info.unit == RATIO and number > 1:
        raise RuleError(f"threshold for {info.name} is a fraction between 0 and 1: use 0.05 for 5%",
                        "threshold")
    return number


def _parse_choice(body: Mapping[str, Any], field: str, choices: tuple[str, ...], default: str | None) -> str:
    value = default if body.get(field) is None else body[field]
    if value not in choices:
        raise RuleError(_choice_message(field, value, choices), field)
    return str(value)


def _choice_message(field: str, value: Any, choices: tuple[str, ...]) -> str:
    accepted = ", ".join(f'"{choice}"' for choice in choices)
    if value is None:
        return f"{field} is required; accepted: {accepted}"
    return f"{field} {value!r} is not accepted; accepted: {accepted}"


def _parse_bounded(body: Mapping[str, Any], field: str, bounds: tuple[timedelta, timedelta],
                   default: timedelta | None) -> timedelta:
    low, high = bounds
    span = f"between {format_duration(low)} and {format_duration(high)}"
    if body.get(field) is None:
        if default is None:
            raise RuleError(f'{field} is required: a duration {span}, e.g. "5m"', field)
        return default
    value = parse_duration(body[field], field)
    if not low <= value <= high:
        raise RuleError(f"{field} must be {span}, not {body[field]!r}", field)
    return value


def _parse_renotify(body: Mapping[str, Any], default: timedelta) -> timedelta:
    """0s turns re-notification off; otherwise a cadence from a minute to a week."""
    if body.get("renotify") is None:
        return default
    value = parse_duration(body["renotify"], "renotify")
    if value != ZERO and not MIN_RENOTIFY <= value <= MAX_RENOTIFY:
        raise RuleError(f'renotify must be "0s" (never) or between {format_duration(MIN_RENOTIFY)} '
                        f"and {format_duration(MAX_RENOTIFY)}, not {body['renotify']!r}", "renotify")
    return value


def _parse_bool(body: Mapping[str, Any], field: str, default: bool) -> bool:
    value = default if body.get(field) is None else body[field]
    if not isinstance(value, bool):
        raise RuleError(f"{field} must be true or false, not {value!r}", field)
    return value


def _parse_text(body: Mapping[str, Any], field: str, limit: int) -> str:
    value = "" if body.get(field) is None else body[field]
    if not isinstance(value, str):
        raise RuleError(f"{field} must be a text, not {value!r}", field)
    if len(value) > limit:
        raise RuleError(f"{field} is too long: at most {limit} characters", field)
    return value
