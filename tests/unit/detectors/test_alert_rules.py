"""Alert rules: every refusal names its field and says what is accepted; valid rules round-trip."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import pytest

from detectors.alerts.rules import (
    COMPARATORS,
    FILTER_KEYS,
    METRICS,
    RATIO,
    UNITS,
    AlertInputError,
    RuleError,
    RuleSpec,
    compare,
    evaluate,
    format_duration,
    merge_rule,
    parse_duration,
    parse_rule,
)

KNOWN = frozenset({1, 2, 3})
RENOTIFY = timedelta(hours=4)
DROP = object()  # marks a key to remove from the valid payload
VALID: dict[str, Any] = {
    "name": "p95 too slow", "metric": "latency_p95_ms", "comparator": ">", "threshold": 2000,
    "window": "5m", "for": "2m", "severity": "critical", "filters": {"model": "gpt-4o", "environment": "prod"},
    "channels": [2, 1], "enabled": True, "renotify": "1h", "description": "Users wait too long.",
}
EXPECTED = RuleSpec(
    name="p95 too slow", metric="latency_p95_ms", comparator=">", threshold=2000.0, window=timedelta(minutes=5),
    for_duration=timedelta(minutes=2), severity="critical",
    filters=(("environment", "prod"), ("model", "gpt-4o")), channels=(2, 1), enabled=True,
    renotify=timedelta(hours=1), description="Users wait too long.",
)
ALL_METRICS = ", ".join(METRICS)
ALL_FIELDS = ("name, metric, comparator, threshold, window, for, severity, filters, channels, enabled, renotify, "
              "description")
DURATION_HINT = 'use a whole number followed by s, m, h, d or w, e.g. "30s", "5m", "1h", "2d", "1w"'


def _parse(known: frozenset[int] = KNOWN, **changes: Any) -> RuleSpec:
    payload = {key: value for key, value in {**VALID, **changes}.items() if value is not DROP}
    return parse_rule(payload, known_channels=known, default_renotify=RENOTIFY)


def _refused(**changes: Any) -> RuleError:
    with pytest.raises(RuleError) as caught:
        _parse(**changes)
    return caught.value


ERRORS = [
    # (changes to the valid payload, field, exact message)
    ({"name": DROP}, "name", "name is required: a non-empty text"),
    ({"name": "   "}, "name", "name is required: a non-empty text"),
    ({"name": 7}, "name", "name is required: a non-empty text"),
    ({"name": "x" * 201}, "name", "name is too long: at most 200 characters"),
    ({"metric": DROP}, "metric", f"metric is required; known metrics: {ALL_METRICS}"),
    ({"metric": "latency"}, "metric", f"unknown metric 'latency'; known metrics: {ALL_METRICS}"),
    ({"comparator": DROP}, "comparator", 'comparator is required; accepted: ">", ">=", "<", "<="'),
    ({"comparator": "=="}, "comparator", 'comparator \'==\' is not accepted; accepted: ">", ">=", "<", "<="'),
    ({"threshold": DROP}, "threshold", "threshold is required: a number in ms"),
    ({"threshold": "2000"}, "threshold", "threshold must be a number, not '2000'"),
    ({"threshold": True}, "threshold", "threshold must be a number, not True"),
    ({"threshold": math.nan}, "threshold", "threshold must be a finite number"),
    ({"threshold": math.inf}, "threshold", "threshold must be a finite number"),
    ({"threshold": 10**400}, "threshold", "threshold must be a finite number"),
    ({"threshold": -1}, "threshold", "threshold must be 0 or more: latency_p95_ms is never negative"),
    ({"metric": "error_rate", "threshold": 5}, "threshold",
     "threshold for error_rate is a fraction between 0 and 1: use 0.05 for 5%"),
    ({"window": DROP}, "window", 'window is required: a duration between 1m and 31d, e.g. "5m"'),
    ({"window": "30s"}, "window", "window must be between 1m and 31d, not '30s'"),
    ({"window": "32d"}, "window", "window must be between 1m and 31d, not '32d'"),
    ({"window": "5 minutes"}, "window", f"window '5 minutes' is not a duration; {DURATION_HINT}"),
    ({"window": "-5m"}, "window", f"window '-5m' is negative; {DURATION_HINT}"),
    ({"window": 300}, "window", f"window must be a text duration; {DURATION_HINT}"),
    ({"for": "8d"}, "for", "for must be between 0s and 1w, not '8d'"),
    ({"for": "1h30m"}, "for", f"for '1h30m' is not a duration; {DURATION_HINT}"),
    ({"severity": "fatal"}, "severity",
     'severity \'fatal\' is not accepted; accepted: "critical", "error", "warning", "info"'),
    ({"filters": "gpt-4o"}, "filters", 'filters must be an object such as {"model": "gpt-4o"}'),
    ({"filters": {"region": "eu"}}, "filters", f"filters: unknown key 'region'; accepted: {', '.join(FILTER_KEYS)}"),
    ({"filters": {"model": 4}}, "filters.model", "filters.model must be a non-empty text of at most 200 characters"),
    ({"filters": {"user": " "}}, "filters.user", "filters.user must be a non-empty text of at most 200 characters"),
    ({"channels": 1}, "channels", "channels must be a list of channel ids, e.g. [1, 2]"),
    ({"channels": ["1"]}, "channels", "channels: '1' is not a channel id (a whole number)"),
    ({"channels": [True]}, "channels", "channels: True is not a channel id (a whole number)"),
    ({"channels": [1, 7]}, "channels", "channel 7 does not exist; known channels: 1, 2, 3"),
    ({"known": frozenset()}, "channels", "channel 2 does not exist; create a channel first"),
    ({"enabled": "yes"}, "enabled", "enabled must be true or false, not 'yes'"),
    ({"renotify": "30s"}, "renotify", "renotify must be \"0s\" (never) or between 1m and 1w, not '30s'"),
    ({"renotify": "soon"}, "renotify", f"renotify 'soon' is not a duration; {DURATION_HINT}"),
    ({"description": 5}, "description", "description must be a text, not 5"),
    ({"description": "x" * 2001}, "description", "description is too long: at most 2000 characters"),
    ({"thresold": 5}, "thresold", f"unknown field 'thresold'; accepted: {ALL_FIELDS}"),
]


@pytest.mark.parametrize(("changes", "field", "message"), ERRORS, ids=[f"{e[1]}-{i}" for i, e in enumerate(ERRORS)])
def test_each_problem_is_refused_with_its_field_and_what_is_accepted(changes: dict[str, Any], field: str,
                                                                     message: str) -> None:
    error = _refused(**changes)
    assert (error.field, error.message, str(error)) == (field, message, message)


def test_a_body_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(RuleError) as caught:
        parse_rule(["not", "an", "object"], known_channels=KNOWN, default_renotify=RENOTIFY)
    assert (caught.value.field, caught.value.message) == ("", "the body must be a JSON object")


def test_errors_are_client_errors_for_the_http_edge() -> None:
    error = _refused(metric="nope")
    assert isinstance(error, AlertInputError) and isinstance(error, ValueError) and error.status == 400


def test_the_first_problem_in_field_order_is_reported() -> None:
    assert _refused(name="", metric="nope").field == "name"


def test_a_valid_rule_parses_to_the_spec() -> None:
    assert _parse() == EXPECTED


def test_a_valid_rule_round_trips_through_its_json() -> None:
    spec = _parse()
    assert spec.to_json() == {**VALID, "threshold": 2000.0, "channels": [2, 1]}
    assert parse_rule(spec.to_json(), known_channels=KNOWN, default_renotify=RENOTIFY) == spec


def test_optional_fields_take_their_defaults() -> None:
    spec = parse_rule({"name": "errors", "metric": "error_rate", "comparator": ">=", "threshold": 0.05,
                       "window": "1h"}, known_channels=KNOWN, default_renotify=RENOTIFY)
    assert spec == RuleSpec(name="errors", metric="error_rate", comparator=">=", threshold=0.05,
                            window=timedelta(hours=1), for_duration=timedelta(0), severity="warning",
                            filters=(), channels=(), enabled=True, renotify=RENOTIFY, description="")


def test_null_optional_fields_take_their_defaults() -> None:
    spec = _parse(severity=None, enabled=None, description=None, renotify=None, filters=None, channels=None)
    assert (spec.severity, spec.enabled, spec.description, spec.renotify, spec.filters, spec.channels) == (
        "warning", True, "", RENOTIFY, (), ())


def test_read_only_fields_from_a_get_are_ignored() -> None:
    assert _parse(id=12, project="acme", created_at="2025-06-01T00:00:00Z") == EXPECTED


def test_specs_are_immutable_and_hashable() -> None:
    assert len({_parse(), _parse(filters={"environment": "prod", "model": "gpt-4o"})}) == 1
    assert _parse().filter_map == {"environment": "prod", "model": "gpt-4o"}


def test_names_and_filter_values_are_trimmed_and_repeated_channels_dropped() -> None:
    spec = _parse(name="  slow  ", filters={"tag": " beta "}, channels=[3, 1, 3])
    assert (spec.name, spec.filters, spec.channels) == ("slow", (("tag", "beta"),), (3, 1))


def test_renotify_zero_means_never() -> None:
    assert _parse(renotify="0s").renotify == timedelta(0)


def test_rate_thresholds_accept_the_whole_range() -> None:
    assert _parse(metric="cache_hit_rate", comparator="<", threshold=0).threshold == 0.0
    assert _parse(metric="hallucination_rate", threshold=1).threshold == 1.0


@pytest.mark.parametrize(("text", "expected"), [
    ("30s", timedelta(seconds=30)), ("5m", timedelta(minutes=5)), ("1h", timedelta(hours=1)),
    ("2d", timedelta(days=2)), ("1w", timedelta(weeks=1)), ("0s", timedelta(0)), (" 15m ", timedelta(minutes=15)),
    ("90m", timedelta(minutes=90)), ("366d", timedelta(days=366)),
])
def test_parse_duration_reads_compact_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("", f"duration '' is not a duration; {DURATION_HINT}"),
    ("5", f"duration '5' is not a duration; {DURATION_HINT}"),
    ("m", f"duration 'm' is not a duration; {DURATION_HINT}"),
    ("5M", f"duration '5M' is not a duration; {DURATION_HINT}"),
    ("5.5m", f"duration '5.5m' is not a duration; {DURATION_HINT}"),
    ("1h30m", f"duration '1h30m' is not a duration; {DURATION_HINT}"),
    ("-1h", f"duration '-1h' is negative; {DURATION_HINT}"),
    (None, f"duration must be a text duration; {DURATION_HINT}"),
    ("367d", "duration '367d' is longer than 366d"),
    ("999999999w", "duration '999999999w' is longer than 366d"),
])
def test_parse_duration_refuses_junk(text: Any, message: str) -> None:
    with pytest.raises(RuleError) as caught:
        parse_duration(text)
    assert (caught.value.field, caught.value.message) == ("duration", message)


@pytest.mark.parametrize(("value", "text"), [
    (timedelta(0), "0s"), (timedelta(seconds=45), "45s"), (timedelta(minutes=90), "90m"),
    (timedelta(hours=4), "4h"), (timedelta(days=7), "1w"), (timedelta(days=31), "31d"),
])
def test_format_duration_uses_the_largest_exact_unit(value: timedelta, text: str) -> None:
    assert format_duration(value) == text
    assert parse_duration(text) == value


def test_merge_rule_partial_update_keeps_the_other_fields() -> None:
    merged = merge_rule(EXPECTED, {"threshold": 3000, "severity": "warning"}, known_channels=KNOWN)
    assert merged == RuleSpec(**{**EXPECTED.__dict__, "threshold": 3000.0, "severity": "warning"})


def test_merge_rule_full_update_replaces_everything() -> None:
    replacement = {"name": "spend", "metric": "cost_total", "comparator": ">=", "threshold": 50, "window": "1d"}
    merged = merge_rule(EXPECTED, replacement, known_channels=KNOWN)
    assert (merged.name, merged.metric, merged.threshold, merged.window) == ("spend", "cost_total", 50.0,
                                                                             timedelta(days=1))
    assert merged.filters == EXPECTED.filters  # absent keys are kept: PUT without them is a partial update


def test_merge_rule_replaces_filters_whole_and_null_resets_to_default() -> None:
    merged = merge_rule(EXPECTED, {"filters": {"user": "u1"}, "description": None, "renotify": None},
                        known_channels=KNOWN)
    assert (merged.filters, merged.description, merged.renotify) == ((("user", "u1"),), "", EXPECTED.renotify)
    assert merge_rule(EXPECTED, {"renotify": None}, known_channels=KNOWN,
                      default_renotify=timedelta(hours=8)).renotify == timedelta(hours=8)


@pytest.mark.parametrize(("patch", "field", "message"), [
    ({"name": None}, "name", "name is required: a non-empty text"),
    ({"metric": "error_rate"}, "threshold", "threshold for error_rate is a fraction between 0 and 1: use 0.05 for 5%"),
    ({"channels": [9]}, "channels", "channel 9 does not exist; known channels: 1, 2, 3"),
    ({"window": "1y"}, "window", f"window '1y' is not a duration; {DURATION_HINT}"),
    ({"colour": "red"}, "colour", f"unknown field 'colour'; accepted: {ALL_FIELDS}"),
    ("threshold=5", "", "the body must be a JSON object"),
])
def test_merge_rule_validates_like_a_new_rule(patch: Any, field: str, message: str) -> None:
    with pytest.raises(RuleError) as caught:
        merge_rule(EXPECTED, patch, known_channels=KNOWN)
    assert (caught.value.field, caught.value.message) == (field, message)


@pytest.mark.parametrize(("comparator", "value", "threshold", "expected"), [
    (">", 5.0, 4.0, True), (">", 4.0, 4.0, False), (">", 3.0, 4.0, False),
    (">=", 5.0, 4.0, True), (">=", 4.0, 4.0, True), (">=", 3.0, 4.0, False),
    ("<", 3.0, 4.0, True), ("<", 4.0, 4.0, False), ("<", 5.0, 4.0, False),
    ("<=", 3.0, 4.0, True), ("<=", 4.0, 4.0, True), ("<=", 5.0, 4.0, False),
    (">", math.nan, 4.0, False), ("<", math.nan, 4.0, False),
])
def test_compare(comparator: str, value: float, threshold: float, expected: bool) -> None:
    assert compare(comparator, value, threshold) is expected


def test_compare_refuses_an_unknown_comparator() -> None:
    with pytest.raises(RuleError) as caught:
        compare("!=", 1.0, 2.0)
    assert caught.value.field == "comparator"


def test_evaluate_turns_a_missing_value_into_no_data() -> None:
    rule = _parse()
    assert (evaluate(rule, None), evaluate(rule, math.nan), evaluate(rule, 2500.0), evaluate(rule, 2000.0)) == (
        None, None, True, False)


def test_the_metric_table_covers_the_api_contract() -> None:
    contract = {"cost_total", "budget_used_pct", "projected_spend", "latency_p95_ms", "latency_p99_ms",
                "ttft_p95_ms", "error_rate", "hallucination_rate", "cache_hit_rate", "cost_per_request", "drift",
                "parse_failure_rate", "refusal_rate", "truncation_rate", "tool_error_rate"}  # issue #24
    assert set(METRICS) == contract
    assert all(info.unit in UNITS and info.name == name and info.description for name, info in METRICS.items())
    assert {name for name, info in METRICS.items() if info.unit == RATIO} == {
        "error_rate", "hallucination_rate", "cache_hit_rate", "parse_failure_rate", "refusal_rate",
        "truncation_rate", "tool_error_rate"}
    assert [name for name, info in METRICS.items() if info.lower_is_worse] == ["cache_hit_rate"]
    assert (METRICS["budget_used_pct"].unit, METRICS["drift"].unit) == ("pct", "count")
    assert set(COMPARATORS) == {">", ">=", "<", "<="}
