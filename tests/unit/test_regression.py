"""The regression set's pure parts: run names, settings checks, and which run a new one is gated against."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from evals.experiment_request import Limits, RequestError
from evals.regression import run_name, same_target
from evals.regression_gate import last_good
from evals.regression_settings import RegressionSettings, parse_settings
from schemas.dataset_items import NAME

LIMITS = Limits(max_concurrency=8, key_name_allowed=lambda name: name.startswith("LLMPULSE_TARGET_"),
                key_name_set=lambda name: name == "LLMPULSE_TARGET_A")


def test_a_run_name_is_a_valid_name_whatever_the_model_is_called() -> None:
    name = run_name("meta/llama-3.1:70b" + "x" * 200, "fp_ab:cd/" + "y" * 200, "0123abcd")
    assert NAME.fullmatch(name) and len(name) <= 128 and name.startswith("regression-meta_llama-3.1_70b")
    assert run_name("gpt-4o", "gpt-4o-2024-08-06", "1a2b3c4d") == "regression-gpt-4o-gpt-4o-2024-08-06-1a2b3c4d"


def test_settings_merge_with_what_is_stored_and_default_the_model() -> None:
    first = parse_settings({"regression_dataset": "golden", "regression_targets": {
        "gpt-4o": {"endpoint": "http://h/v1/", "api_key_env": "LLMPULSE_TARGET_A"}}}, None, LIMITS)
    assert first.targets == {"gpt-4o": {"endpoint": "http://h/v1", "model": "gpt-4o",
                                        "api_key_env": "LLMPULSE_TARGET_A"}}
    second = parse_settings({"regression_min_pass_rate": 0.9, "regression_channels": [2, 1, 2]}, first, LIMITS)
    assert (second.dataset, second.targets, second.min_pass_rate, second.channels) == (
        "golden", first.targets, 0.9, [1, 2])
    assert parse_settings({"regression_dataset": None}, second, LIMITS) == RegressionSettings(None, {})


@pytest.mark.parametrize(("target", "words"), [
    ({"endpoint": "http://h/v1", "api_key_env": "LLMPULSE_TARGET_B"}, "is not set"),
    ({"endpoint": "http://h/v1", "max_concurrency": 99}, "max_concurrency must be a whole number from 1 to 8"),
    ({"endpoint": "http://h/v1", "prompt_template": "no variable"}, "prompt_template must use {{input}}"),
    ({"endpoint": "http://h/v1", "runner": "app"}, "unknown field 'runner'"),
    ("http://h/v1", "must be an object"),
])
def test_a_bad_target_names_its_model_and_field(target: Any, words: str) -> None:
    with pytest.raises(RequestError, match=r"regression_targets\['m'\]") as raised:
        parse_settings({"regression_dataset": "golden", "regression_targets": {"m": target}}, None, LIMITS)
    assert words in str(raised.value)


def experiment(name: str, minutes: int, status: str = "done", version: int = 1, model: str = "m") -> dict[str, Any]:
    return {"name": name, "status": status, "dataset_id": 1, "dataset_version": version,
            "created_at": datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=minutes),
            "target": {"endpoint": "http://h/v1", "model": model, "max_concurrency": minutes}}


def test_the_last_good_run_skips_failed_gates_other_versions_targets_and_later_runs() -> None:
    candidate = experiment("cand", 50)
    newest_first = [experiment("later", 60), candidate, experiment("bad-gate", 40), experiment("failed", 35, "failed"),
                    experiment("v2", 30, version=2), experiment("other", 25, model="n"), experiment("good", 20),
                    experiment("older", 10)]
    assert last_good(newest_first, candidate, {"bad-gate"})["name"] == "good"
    assert last_good(newest_first, candidate, set())["name"] == "bad-gate"
    assert last_good([candidate], candidate, set()) is None


def test_a_target_is_the_same_whatever_its_concurrency_or_key() -> None:
    recorded = {"endpoint": "http://h/v1", "model": "m", "max_concurrency": 4, "api_key_env": "A"}
    assert same_target(recorded, {"endpoint": "http://h/v1"}, "m")
    assert not same_target(recorded, {"endpoint": "http://h/v1", "temperature": 0.0}, "m")
    assert not same_target(recorded, {"endpoint": "http://h/v1"}, "other")
