"""Declared cohort keys (the setting, its check, the CLI's reading of it) and the marks that say
which hours the cohort rollup holds, and so which comparisons it may answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click
import pytest

from evals.cohort_keys import parse_cohort_keys
from evals.experiment_request import RequestError
from llmpulse.cli_projects import parse_cohort_keys as cli_keys
from llmpulse.cli_projects import project_body
from schemas.clickhouse.cohort_rollup import RolledKeys, held_hours, rolled_hours
from schemas.clickhouse.cohorts import Cohorts
from schemas.clickhouse.metrics import RollupSpan
from schemas.cohort_keys import DEFAULT_COHORT_KEYS, declared_keys, stored_keys

DAY = datetime(2026, 12, 1, tzinfo=UTC)


def test_the_defaults_name_prompt_versions_and_releases_of_each_convention() -> None:
    assert declared_keys(None) == DEFAULT_COHORT_KEYS
    for key in ("llmpulse.prompt.version", "llm.prompt_template.version", "traceloop.prompt.version",
                "langfuse.observation.prompt.version", "service.version", "langfuse.release"):
        assert key in DEFAULT_COHORT_KEYS
    assert declared_keys(stored_keys(["a.b", "c"])) == ("a.b", "c") and declared_keys(stored_keys([])) == ()
    assert stored_keys(None) is None


def test_a_list_of_attribute_keys_is_accepted_as_given() -> None:
    assert parse_cohort_keys(["app.variant", "service.version"]) == ["app.variant", "service.version"]
    assert parse_cohort_keys([]) == [] and parse_cohort_keys(None) is None
    assert parse_cohort_keys(["ключ.версия"]) == ["ключ.версия"]  # any key: it is bound, never spliced


@pytest.mark.parametrize(("value", "message"), [
    ({"service.version": True}, "must be a list"),
    ([1], "not an attribute key"),
    (["x" * 257], "not an attribute key"),
    (["service", "v"], "names a column"),
    (["a", "b", "a"], "'a' is given twice"),
    ([str(i) for i in range(21)], "at most 20"),
])
def test_bad_keys_are_refused_naming_the_key(value: object, message: str) -> None:
    with pytest.raises(RequestError, match=message):
        parse_cohort_keys(value)


def test_the_cli_reads_default_and_none_alone() -> None:
    assert cli_keys(("default",)) is None and cli_keys(("none",)) == [] and cli_keys(("a", "b")) == ["a", "b"]
    with pytest.raises(click.BadParameter):
        cli_keys(("none", "a"))
    assert project_body(None, None, None, None, (), None, (), False, ("a",)) == {"cohort_keys": ["a"]}
    assert project_body(None, None, None, None, (), None, (), False) == {}


def test_marks_hold_each_key_from_its_floor_and_survive_their_text() -> None:
    marks = RolledKeys({"v": DAY, "r": DAY + timedelta(days=1)}, DAY + timedelta(days=2), DAY + timedelta(days=2))
    assert RolledKeys.from_text(marks.to_text()) == marks
    assert marks.held("v") == RollupSpan(DAY, DAY + timedelta(days=2)) and marks.held("x") is None
    later = marks.for_keys(["r", "new"])  # a key no longer declared is dropped, a new one holds nothing yet
    assert later.floors == {"r": DAY + timedelta(days=1), "new": marks.until} and later.held("new") is None
    assert held_hours({"cohorts.rollup.p": marks.to_text()}, "p", "v") == marks.held("v")
    assert held_hours({}, "p", "v") is None and held_hours({"cohorts.rollup.p": ""}, "p", "v") is None


def cohorts(start: datetime, end: datetime, attribute: str = "llmpulse.prompt.version", **filters: str) -> Cohorts:
    return Cohorts("p", start, end, attribute, "v1", "v2", filters)


def test_the_rollup_answers_for_the_whole_hours_it_holds_of_an_unfiltered_attribute() -> None:
    held = RollupSpan(DAY, DAY + timedelta(hours=10))
    edge = cohorts(DAY - timedelta(hours=3, minutes=20), DAY + timedelta(hours=4, minutes=30))
    assert rolled_hours(edge, held) == (DAY, DAY + timedelta(hours=4))
    inside = cohorts(DAY + timedelta(hours=2, minutes=20), DAY + timedelta(hours=12))
    assert rolled_hours(inside, held) == (DAY + timedelta(hours=3), DAY + timedelta(hours=10))
    assert rolled_hours(cohorts(DAY + timedelta(minutes=5), DAY + timedelta(minutes=55)), held) is None
    assert rolled_hours(cohorts(DAY, DAY + timedelta(hours=2), model="gpt-4o"), held) is None  # filtered
    assert rolled_hours(cohorts(DAY, DAY + timedelta(hours=2), attribute="model"), held) is None  # a column
    assert rolled_hours(edge, None) is None
