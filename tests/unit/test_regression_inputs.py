"""How the Settings form and `llmpulse projects set` read a regression set before the API checks it:
what a person types becomes the PUT body's fields, and only what neither can send is refused here."""

from __future__ import annotations

import click
import pytest

from dashboard.ui.pages.settings_regression import CHOSEN, EVERY, request_body, typed_rows
from llmpulse.cli_projects import parse_channels, parse_target, project_body


def state(field: str, row: int, value: str) -> dict:
    return {"id": {"type": "regression-target", "field": field, "id": row}, "property": "value", "value": value}


def test_the_form_rows_become_targets_typed_as_the_run_form_types_them() -> None:
    rows = typed_rows([state("requested", 1, "gpt-4o-mini"), state("endpoint", 1, " http://x/v1 "),
                       state("requested", 0, " gpt-4o "), state("temperature", 0, "0"), state("max_tokens", 0, "300"),
                       state("system_prompt", 0, "  Answer briefly.\n"), state("model", 0, ""),
                       state("requested", 2, ""), state("endpoint", 2, "  ")])  # a blank row
    body = request_body("golden", " 0.8 ", CHOSEN, [2, 1], rows)
    assert body == {"regression_dataset": "golden", "regression_min_pass_rate": 0.8, "regression_channels": [2, 1],
                    "regression_targets": {
                        "gpt-4o": {"temperature": 0, "max_tokens": 300, "system_prompt": "  Answer briefly.\n"},
                        "gpt-4o-mini": {"endpoint": "http://x/v1"}}}
    assert request_body("golden", "", EVERY, [3], {})["regression_channels"] is None  # every channel: null
    assert request_body("golden", "", CHOSEN, None, {})["regression_channels"] == []  # none chosen: the incident only
    assert request_body("golden", "high", EVERY, [], {})["regression_min_pass_rate"] == "high"  # the API names it


@pytest.mark.parametrize(("dataset", "rows", "words"), [
    (None, {}, "pick the dataset"),
    ("golden", {0: {"endpoint": "http://x/v1"}}, "a target needs its requested model"),
    ("golden", {0: {"requested": "a"}, 1: {"requested": " a "}}, "a has two targets"),
])
def test_what_only_a_form_can_get_wrong_is_refused_before_the_api(dataset: str | None, rows: dict,
                                                                    words: str) -> None:
    with pytest.raises(ValueError, match=words):
        request_body(dataset, "", EVERY, [], rows)


def test_a_target_option_splits_only_where_a_field_starts() -> None:
    prompt = "You answer briefly, politely, in English."
    assert parse_target(f"gpt-4o=https://api.example/v1,system_prompt={prompt},temperature=0.2,max_tokens=5") == (
        "gpt-4o", {"endpoint": "https://api.example/v1", "system_prompt": prompt, "temperature": 0.2,
                   "max_tokens": 5})
    assert parse_target("gpt-4o=model=gpt-4o-2024-08-06") == ("gpt-4o", {"model": "gpt-4o-2024-08-06"})
    assert parse_target("gpt-4o=") == ("gpt-4o", {})  # the server's default endpoint, the requested model


@pytest.mark.parametrize("text", ["gpt-4o", "=http://x/v1", "gpt-4o=http://x/v1,api_key=sk-1", "m=,max_tokens=lots"])
def test_an_unreadable_target_option_is_a_usage_error(text: str) -> None:
    with pytest.raises(click.BadParameter):
        parse_target(text)


def test_channels_and_removal_as_options() -> None:
    assert parse_channels(("3", "1")) == [3, 1]
    assert parse_channels(("all",)) is None and parse_channels(("None",)) == []
    body = project_body(None, None, None, None, (), None, (), True)
    assert body == {"regression_dataset": None}
    assert project_body(30, 0.5, "reported", None, (), "none", (), False) == {
        "retention_days": 30, "eval_sample_rate": 0.5, "cost_preference": "reported", "regression_min_pass_rate": None}
