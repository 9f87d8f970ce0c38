"""The A/B page's suggestions: attribute keys that cut recent calls into a few cohorts, and the
values one attribute took, after the demo's traffic (two prompt versions, three service versions)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from llmpulse.demo.send import run_demo
from schemas.clickhouse.cohort_choices import attribute_keys, attribute_values
from tests.conftest import Running

NOW = datetime.now(UTC)


@pytest.fixture
def demo(running: Running) -> Running:
    run_demo(running.otlp_url, traces=60, seed=7, days=0.25, now=NOW)
    running.flush()
    return running


def test_keys_are_cohort_labels_not_texts_or_ids(demo: Running) -> None:
    keys = attribute_keys(demo.service.store, "default", NOW - timedelta(hours=6), NOW)
    assert {"llmpulse.prompt.version", "service.version", "gen_ai.provider.name"} <= set(keys)
    assert not {"gen_ai.input.messages", "gen_ai.response.id", "session.id", "input.value"} & set(keys)
    assert not {"gen_ai.system_instructions", "gen_ai.prompt.0.content"} & set(keys)  # recurring, but prompts


def test_values_of_an_attribute_a_filter_and_a_resource_key(demo: Running) -> None:
    store, start = demo.service.store, NOW - timedelta(hours=6)
    assert sorted(attribute_values(store, "default", "llmpulse.prompt.version", start, NOW)) == ["v1", "v2"]
    assert {"gpt-4o-mini", "claude-sonnet-4-5"} <= set(attribute_values(store, "default", "model", start, NOW))
    assert set(attribute_values(store, "default", "service.version", start, NOW)) == {"2.14.0", "1.9.3", "0.7.1"}
    assert attribute_values(store, "default", "no.such.key", start, NOW) == []
    assert attribute_values(store, "other-project", "model", start, NOW) == []
    assert attribute_values(store, "default", "model", NOW - timedelta(days=3), NOW - timedelta(days=2)) == []
