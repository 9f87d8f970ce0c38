"""The checks of POST /api/v1/experiments, without a server: each bad field is named."""

from __future__ import annotations

import pytest

from evals.experiment_request import APP, SERVICE, Limits, RequestError, parse_request

ALLOWED = Limits(8, key_name_allowed=lambda name: name.startswith("LLMPULSE_TARGET_"),
                 key_name_set=lambda name: name == "LLMPULSE_TARGET_SET")
BASE = {"name": "r1", "dataset": "golden", "model": "m", "endpoint": "http://127.0.0.1:9/v1/"}


def test_a_full_service_request_and_what_its_target_records() -> None:
    request = parse_request({**BASE, "prompt_template": "Q: {{input}}", "temperature": 0, "max_tokens": 5,
                             "max_concurrency": 8, "api_key": "sk-1"}, ALLOWED)
    assert (request.runner, request.endpoint, request.temperature, request.dataset_version) == (
        SERVICE, "http://127.0.0.1:9/v1", 0.0, None)
    assert request.target() == {"endpoint": "http://127.0.0.1:9/v1", "model": "m", "prompt_template": "Q: {{input}}",
                                "temperature": 0.0, "max_tokens": 5, "max_concurrency": 8, "api_key_sealed": True}
    assert "sk-1" not in repr(request.target())


def test_the_default_endpoint_and_an_app_run() -> None:
    assert parse_request({**BASE, "endpoint": None}, Limits(8, "http://d/v1")).endpoint == "http://d/v1"
    app = parse_request({"name": "a", "dataset": "golden", "runner": "app", "dataset_version": 2}, ALLOWED)
    assert (app.runner, app.dataset_version, app.target()) == (APP, 2, {})


@pytest.mark.parametrize(("change", "words"), [
    ({"name": "a b"}, "name 'a b' must be"),
    ({"name": "compare"}, "name 'compare' is reserved"),
    ({"dataset": ""}, "dataset is required"),
    ({"model": 3}, "model must be a text"),
    ({"max_tokens": 1.5}, "max_tokens must be a whole number"),
    ({"temperature": True}, "temperature must be a number"),
    ({"max_concurrency": 9}, "max_concurrency must be a whole number from 1 to 8"),
    ({"api_key": "k", "api_key_env": "LLMPULSE_TARGET_SET"}, "give api_key or api_key_env, not both"),
    ({"api_key_env": "LLMPULSE_SECRET_KEY"}, "api_key_env 'LLMPULSE_SECRET_KEY' is not allowed"),
    ({"api_key_env": "LLMPULSE_TARGET_GONE"}, "api_key_env 'LLMPULSE_TARGET_GONE' is not set"),
    ({"runner": "cloud"}, "runner must be one of service, app"),
    ({"runner": "app"}, "endpoint is for runner 'service'"),
])
def test_each_bad_field_is_named(change: dict, words: str) -> None:
    with pytest.raises(RequestError) as caught:
        parse_request({**BASE, **change}, ALLOWED)
    assert str(caught.value).startswith(words)
