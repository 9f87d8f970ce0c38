"""What `PUT /api/v1/projects/<name>` may say about the project's regression set, checked before
anything is stored.

Pure (no DB, no Flask), like `evals.experiment_request`, whose checks each target goes through: a
target is the part of an experiment request that says what to call, so it is checked by the same
rules (an http(s) endpoint, a template with a variable, a key only by the name of an allowed
server variable — never a key in clear, which would then sit in the settings). A bad field raises
`RequestError` naming it; the caller checks that the dataset and channels exist.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from evals.experiment_request import Limits, RequestError, parse_request
from schemas.dataset_items import ItemError, check_name

FIELDS = ("regression_dataset", "regression_targets", "regression_min_pass_rate", "regression_channels")
TARGET_FIELDS = ("endpoint", "model", "api_key_env", "system_prompt", "prompt_template", "temperature",
                 "max_tokens", "max_concurrency")
MAX_TARGETS = 50
MAX_MODEL = 256


@dataclass(frozen=True)
class RegressionSettings:
    """A project's regression set as it will be stored; `dataset` None removes the set."""

    dataset: str | None
    targets: dict[str, dict[str, Any]]
    min_pass_rate: float | None = None
    channels: list[int] | None = None


def given(body: dict[str, Any]) -> bool:
    return any(name in body for name in FIELDS)


def parse_settings(body: dict[str, Any], current: RegressionSettings | None, limits: Limits) -> RegressionSettings:
    """The settings after this request: fields it gives replace the current ones, the others stay."""
    base = current or RegressionSettings(None, {})
    dataset = _dataset(body["regression_dataset"]) if "regression_dataset" in body else base.dataset
    if dataset is None:
        if any(body.get(name) for name in FIELDS[1:]):
            raise RequestError("regression_dataset is required: the name of the dataset to run on a model change")
        return RegressionSettings(None, {})
    targets = _targets(body["regression_targets"], dataset, limits) if "regression_targets" in body \
        else base.targets
    rate = _rate(body["regression_min_pass_rate"]) if "regression_min_pass_rate" in body else base.min_pass_rate
    channels = _channels(body["regression_channels"]) if "regression_channels" in body else base.channels
    return RegressionSettings(dataset, targets, rate, channels)


def experiment_body(name: str, dataset: str, target: dict[str, Any], requested: str) -> dict[str, Any]:
    """The experiment request that runs `dataset` against a stored target (model defaults to the
    requested model: a target usually asks its provider for the same name)."""
    return {"name": name, "dataset": dataset, "model": requested, **target}


def _dataset(value: Any) -> str | None:
    if value is None:
        return None
    try:
        return check_name(value)
    except ItemError as exc:
        raise RequestError(f"regression_dataset: {exc}") from None


def _targets(value: Any, dataset: str, limits: Limits) -> dict[str, dict[str, Any]]:
    if not isinstance(value, dict):
        raise RequestError("regression_targets must be an object {requested model: {\"endpoint\", \"model\", …}}")
    if len(value) > MAX_TARGETS:
        raise RequestError(f"regression_targets has {len(value)} models; at most {MAX_TARGETS}")
    return {_model(model): _target(model, target, dataset, limits) for model, target in value.items()}


def _model(model: str) -> str:
    if not model or len(model) > MAX_MODEL:
        raise RequestError(f"regression_targets: a requested model name must be 1-{MAX_MODEL} characters")
    return model


def _target(model: str, target: Any, dataset: str, limits: Limits) -> dict[str, Any]:
    where = f"regression_targets[{model!r}]"
    if not isinstance(target, dict):
        raise RequestError(f"{where} must be an object with {', '.join(TARGET_FIELDS)}")
    unknown = sorted(set(target) - set(TARGET_FIELDS))
    if unknown:
        raise RequestError(f"{where}: unknown field {unknown[0]!r}; a target takes {', '.join(TARGET_FIELDS)} "
                           "(a key only as api_key_env, the name of a server variable)")
    try:
        parsed = parse_request(experiment_body("regression-check", dataset, target, model), limits)
    except RequestError as exc:
        raise RequestError(f"{where}: {exc}") from None
    kept = {name: getattr(parsed, name) for name in TARGET_FIELDS}
    return {name: value for name, value in kept.items() if value is not None}


def _rate(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
            or not 0 <= value <= 1:
        raise RequestError(f"regression_min_pass_rate must be a fraction from 0 to 1 (0.8 for 80%), got {value!r}")
    return float(value)


def _channels(value: Any) -> list[int] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise RequestError("regression_channels must be a list of channel ids (null: every channel of the project)")
    return sorted(set(value))
