"""What `POST /api/v1/experiments` may ask for, checked before anything is stored.

Pure (no DB, no Flask): a bad request raises `RequestError` naming the field, so the API answers
400 and nothing of it is stored. The target's API key comes either in the request (then sealed in
the metadata DB) or as the name of a server environment variable; only names that say they hold
a target's key are accepted (`llmpulse.config.TARGET_KEY_PREFIXES`), so an admin cannot make the
runner send another server secret (the metadata DB's password, the judge's key) to an endpoint of
their choosing.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from schemas.dataset_items import ItemError, check_name

_VARIABLE = re.compile(r"\{\{\s*[A-Za-z_]")  # evals.target's template variable: {{input}}, {{name}}
RESERVED_NAMES = frozenset({"compare"})  # routes under /api/v1/experiments/
FIELDS = ("name", "dataset", "dataset_version", "model", "endpoint", "system_prompt", "prompt_template",
          "temperature", "max_tokens", "max_concurrency", "api_key", "api_key_env", "runner")
SERVICE, APP = "service", "app"
MAX_TEXT = 100_000  # characters of a system prompt or template
MAX_VERSION = 2**31 - 1


class RequestError(ValueError):
    """A bad experiment request; the message names the field."""


@dataclass(frozen=True)
class ExperimentRequest:
    name: str
    dataset: str
    runner: str  # SERVICE or APP
    dataset_version: int | None = None  # None: the dataset's current version
    model: str = ""
    endpoint: str = ""
    system_prompt: str | None = None
    prompt_template: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    max_concurrency: int | None = None
    api_key: str | None = None
    api_key_env: str | None = None

    def target(self) -> dict[str, Any]:
        """What the experiment records of its target: never the key itself."""
        fields = ("endpoint", "model", "system_prompt", "prompt_template", "temperature", "max_tokens",
                  "max_concurrency", "api_key_env")
        found = {name: getattr(self, name) for name in fields if getattr(self, name) not in (None, "")}
        return {**found, "api_key_sealed": self.api_key is not None} if self.runner == SERVICE else found


@dataclass(frozen=True)
class Limits:
    max_concurrency: int
    default_endpoint: str = ""
    key_name_allowed: Callable[[str], bool] = lambda name: False
    key_name_set: Callable[[str], bool] = lambda name: False


def parse_request(body: Any, limits: Limits) -> ExperimentRequest:
    if not isinstance(body, dict):
        raise RequestError("the request body must be a JSON object")
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise RequestError(f"unknown field {unknown[0]!r}; an experiment takes {', '.join(FIELDS)}")
    runner = _choice(body, "runner", (SERVICE, APP), SERVICE)
    common = {"name": _name(body.get("name")), "dataset": _dataset(body.get("dataset")), "runner": runner,
              "dataset_version": _int(body, "dataset_version", 0, MAX_VERSION)}
    if runner == APP:
        return _app_request(body, common)
    return ExperimentRequest(**common, **_target(body, limits))


def _app_request(body: dict[str, Any], common: dict[str, Any]) -> ExperimentRequest:
    """An app runs its own pipeline: only the model it says it uses is recorded."""
    runs_itself = sorted(set(body) & {"endpoint", "system_prompt", "prompt_template", "temperature", "max_tokens",
                                      "max_concurrency", "api_key", "api_key_env"})
    if runs_itself:
        raise RequestError(f"{runs_itself[0]} is for runner 'service'; an app-run experiment calls no target")
    return ExperimentRequest(**common, model=_text(body, "model", 200) or "")


def _target(body: dict[str, Any], limits: Limits) -> dict[str, Any]:
    model = _text(body, "model", 200)
    if not model:
        raise RequestError("model is required: the model the target is asked for")
    return {"model": model, "endpoint": _endpoint(body.get("endpoint"), limits.default_endpoint),
            "system_prompt": _text(body, "system_prompt", MAX_TEXT),
            "prompt_template": _template(body),
            "temperature": _number(body, "temperature", 0.0, 2.0),
            "max_tokens": _int(body, "max_tokens", 1, 1_000_000),
            "max_concurrency": _int(body, "max_concurrency", 1, limits.max_concurrency), **_key(body, limits)}


def _name(value: Any) -> str:
    try:
        name = check_name(value)
    except ItemError as exc:
        raise RequestError(str(exc)) from None
    if name in RESERVED_NAMES:
        raise RequestError(f"name {name!r} is reserved (it is a route: /api/v1/experiments/{name}); choose another")
    return name


def _dataset(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise RequestError("dataset is required: the name of the dataset to run")
    return value


def _endpoint(value: Any, default: str) -> str:
    if value is None or value == "":
        if not default:
            raise RequestError("endpoint is required: the base URL of an OpenAI-compatible API (…/v1)")
        return default
    if not isinstance(value, str):
        raise RequestError("endpoint must be a text: the base URL of an OpenAI-compatible API (…/v1)")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise RequestError(f"endpoint {value!r} is not an http(s) URL (e.g. https://api.openai.com/v1)")
    return value.rstrip("/")


def _template(body: dict[str, Any]) -> str | None:
    template = _text(body, "prompt_template", MAX_TEXT)
    if template is not None and not _VARIABLE.search(template):
        raise RequestError("prompt_template must use {{input}} (where the item's input goes) or a variable "
                           "{{name}} of the items' metadata; without one every item sends the same prompt")
    return template


def _key(body: dict[str, Any], limits: Limits) -> dict[str, Any]:
    api_key, env = _text(body, "api_key", 4096), _text(body, "api_key_env", 200)
    if api_key is not None and env is not None:
        raise RequestError("give api_key or api_key_env, not both")
    if env is not None and not limits.key_name_allowed(env):
        raise RequestError(f"api_key_env {env!r} is not allowed: only variables named LLMPULSE_TARGET_… or "
                           "OPENAI_API_KEY… may hold a target's key")
    if env is not None and not limits.key_name_set(env):
        raise RequestError(f"api_key_env {env!r} is not set in the llmpulse server's environment")
    return {"api_key": api_key, "api_key_env": env}


def _text(body: dict[str, Any], name: str, limit: int) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise RequestError(f"{name} must be a text, got {type(value).__name__}")
    if len(value) > limit:
        raise RequestError(f"{name} is longer than {limit} characters")
    return value


def _number(body: dict[str, Any], name: str, low: float, high: float) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
            or not low <= value <= high:
        raise RequestError(f"{name} must be a number from {low:g} to {high:g}, got {value!r}")
    return float(value)


def _int(body: dict[str, Any], name: str, low: int, high: int) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise RequestError(f"{name} must be a whole number from {low} to {high}, got {value!r}")
    return value


def _choice(body: dict[str, Any], name: str, choices: tuple[str, ...], default: str) -> str:
    value = body.get(name, default)
    if value not in choices:
        raise RequestError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value
