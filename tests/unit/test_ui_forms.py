"""A form's refusal names its field once: 'filters.model must be …', never 'filters.model: filters.model …'."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dashboard.ui.forms import input_error
from detectors.alerts.rules import RuleError, check_filters, parse_rule


def _text(component: object) -> str:
    return str(getattr(component, "children", ""))


@pytest.mark.parametrize("filters", [{"colour": "blue"}, {"model": ""}, "model=gpt-4o"])
def test_a_filter_error_names_its_field_once(filters: object) -> None:
    with pytest.raises(RuleError) as raised:
        check_filters(filters, ("model", "service"))
    shown = _text(input_error(raised.value, "rule-error"))
    assert shown.startswith("filters") and shown.count("filters") == 1, shown


def test_a_message_without_its_field_gets_it_in_front() -> None:
    with pytest.raises(RuleError) as raised:
        parse_rule({"name": "r", "metric": "error_rate", "comparator": ">", "threshold": 0.5, "window": "5 minutes"},
                   known_channels=(), default_renotify=timedelta(hours=4))
    shown = _text(input_error(raised.value, "rule-error"))
    assert shown.startswith("window") and shown.count("window") == 1, shown
    bare = RuleError("must be a number", "threshold")
    assert _text(input_error(bare, "rule-error")) == "threshold: must be a number"
