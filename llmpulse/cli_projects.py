"""`llmpulse projects show|set`: a project's settings on a running llmpulse, over its HTTP API.

`set` is `PUT /api/v1/projects/<name>`: each option given replaces that setting, a repeatable one
as a whole (the targets given are the regression set's targets, the channels given its
channels), and the settings not given stay. The server checks every value (the regression set
through `evals.regression_settings` and the API's checks: the dataset and the channels must
exist, a key variable must be one the server allows and has), so a bad value exits 1 with the
server's message, as every API client does (llmpulse.api_client); an option that cannot be read
exits 2 before anything is sent.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

import click

from evals.regression_settings import TARGET_FIELDS
from llmpulse.api_client import ApiFailed, api_options, call, refuse
from schemas.metadata.models import COST_PREFERENCES

TARGET_HELP = "MODEL=ENDPOINT[,model=…,api_key_env=…]"
NUMBERS = {"temperature": float, "max_tokens": int, "max_concurrency": int}
# A target's fields are split at a comma that starts the next `field=`: a prompt may hold commas.
_NEXT_FIELD = re.compile(r",(?=[A-Za-z_]+=)")
_FIELD = re.compile(r"^[A-Za-z_]+=")


@click.group()
def projects() -> None:
    """A project's settings on a running llmpulse: retention, sampling, the regression set."""


@projects.command("show")
@click.argument("name")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@api_options
def show(name: str, output_format: str, url: str) -> None:
    """NAME's settings, its regression set included (GET /api/v1/projects/NAME)."""
    project = request_project("get", url, name)
    click.echo(json.dumps(project, indent=2, ensure_ascii=False) if output_format == "json" else render(project))


@projects.command("set")
@click.argument("name")
@click.option("--retention-days", type=int, help="Days of data kept, 1 to 3650.")
@click.option("--eval-sample-rate", type=float, help="Share of LLM calls scored, 0 to 1.")
@click.option("--cost-preference", type=click.Choice(COST_PREFERENCES), help="Which cost counts when an app "
                                                                                "reports its own.")
@click.option("--cohort-key", "cohort_keys", multiple=True, metavar="KEY|default|none",
              help="An attribute key A/B comparisons are rolled up by (repeatable; the keys given replace the "
                   "declared ones); default: the defaults; none: no key (every comparison scans).")
@click.option("--regression-dataset", metavar="DATASET", help="The dataset run on each model change.")
@click.option("--regression-target", "targets", multiple=True, metavar=TARGET_HELP,
              help="What to call for a requested model (repeatable; the targets given replace the set's). "
                   f"Fields: {', '.join(TARGET_FIELDS)}.")
@click.option("--regression-min-pass-rate", metavar="RATE|none", help="A run under it fails its gate (0.8 for 80%).")
@click.option("--regression-channel", "channels", multiple=True, metavar="ID|all|none",
              help="A channel a failing gate alerts (repeatable); all: every channel of the project (the default); "
                   "none: no channel, the incident only.")
@click.option("--no-regression-set", is_flag=True, help="Remove the regression set.")
@api_options
def set_project(name: str, url: str, **options: Any) -> None:
    """Change NAME's settings (PUT /api/v1/projects/NAME); the settings not given stay."""
    body = project_body(**options)
    if not body:
        raise click.UsageError("nothing to set: give at least one option (llmpulse projects set --help)")
    project = request_project("put", url, name, body)
    click.echo(f"saved project {name}")
    click.echo(render(project))


def request_project(method: str, url: str, name: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    address = f"{url.rstrip('/')}/api/v1/projects/{quote(name, safe='')}"
    answer = call(method, address, None, body)  # the project is in the path: no project=
    if answer.status_code != 200:
        refuse(answer)
    try:
        return answer.json()
    except ValueError:
        raise ApiFailed(f"llmpulse answered {address} with something that is not JSON") from None


def project_body(retention_days: int | None, eval_sample_rate: float | None, cost_preference: str | None,
                 regression_dataset: str | None, targets: tuple[str, ...], regression_min_pass_rate: str | None,
                 channels: tuple[str, ...], no_regression_set: bool,
                 cohort_keys: tuple[str, ...] = ()) -> dict[str, Any]:
    """The PUT body of the options given (an option not given is a field left out: it stays)."""
    body: dict[str, Any] = {"retention_days": retention_days, "eval_sample_rate": eval_sample_rate,
                            "cost_preference": cost_preference}
    body = {key: value for key, value in body.items() if value is not None}
    if cohort_keys:
        body["cohort_keys"] = parse_cohort_keys(cohort_keys)
    regression = regression_body(regression_dataset, targets, regression_min_pass_rate, channels)
    if no_regression_set:
        if regression:
            raise click.UsageError("--no-regression-set removes the regression set: give no other --regression-… "
                                   "option with it")
        regression = {"regression_dataset": None}
    return {**body, **regression}


def regression_body(dataset: str | None, targets: tuple[str, ...], min_pass_rate: str | None,
                    channels: tuple[str, ...]) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if dataset is not None:
        body["regression_dataset"] = dataset
    if targets:
        body["regression_targets"] = parse_targets(targets)
    if min_pass_rate is not None:
        body["regression_min_pass_rate"] = parse_rate(min_pass_rate)
    if channels:
        body["regression_channels"] = parse_channels(channels)
    return body


def parse_targets(texts: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    targets: dict[str, dict[str, Any]] = {}
    for text in texts:
        model, target = parse_target(text)
        if model in targets:
            raise click.BadParameter(f"{model} is given twice; one target per requested model",
                                     param_hint="--regression-target")
        targets[model] = target
    return targets


def parse_target(text: str) -> tuple[str, dict[str, Any]]:
    """`gpt-4o=https://api.openai.com/v1,model=gpt-4o-2024-08-06,api_key_env=LLMPULSE_TARGET_OPENAI`
    (the endpoint may be left out for the server's default: `gpt-4o=model=…`)."""
    model, sep, rest = text.partition("=")
    if not sep or not model.strip():
        raise click.BadParameter(f"{text!r} is not {TARGET_HELP}", param_hint="--regression-target")
    parts = _NEXT_FIELD.split(rest) if rest else []
    if parts and not _FIELD.match(parts[0]):
        parts[0] = f"endpoint={parts[0]}"
    return model.strip(), dict(_target_field(model.strip(), part) for part in parts)


def _target_field(model: str, part: str) -> tuple[str, Any]:
    name, _, value = part.partition("=")
    if name not in TARGET_FIELDS:
        raise click.BadParameter(f"{model}: unknown field {name!r}; a target takes {', '.join(TARGET_FIELDS)}",
                                 param_hint="--regression-target")
    if name not in NUMBERS:
        return name, value
    try:
        return name, NUMBERS[name](value)
    except ValueError:
        raise click.BadParameter(f"{model}: {name}={value!r} is not a number", param_hint="--regression-target") \
            from None


def parse_cohort_keys(texts: tuple[str, ...]) -> list[str] | None:
    """The keys given; `default` alone is the defaults (null), `none` alone no key ([])."""
    words = {text.strip().lower() for text in texts}
    if words & {"default", "none"}:
        if len(texts) > 1:
            raise click.BadParameter("default and none stand alone, without keys", param_hint="--cohort-key")
        return None if "default" in words else []
    return list(texts)


def parse_rate(text: str) -> float | None:
    if text.strip().lower() == "none":
        return None
    try:
        return float(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a number (0.8 for 80%) or none",
                                 param_hint="--regression-min-pass-rate") from None


def parse_channels(texts: tuple[str, ...]) -> list[int] | None:
    """Channel ids; `all` alone is every channel of the project (null), `none` alone no channel ([])."""
    words = {text.strip().lower() for text in texts}
    if words & {"all", "none"}:
        if len(texts) > 1:
            raise click.BadParameter("all and none stand alone, without channel ids", param_hint="--regression-channel")
        return None if "all" in words else []
    try:
        return [int(text) for text in texts]
    except ValueError:
        raise click.BadParameter(f"channel ids are numbers (the Alerts page, GET /api/v1/channels), or all or "
                                 f"none; got {', '.join(texts)}", param_hint="--regression-channel") from None


# --- the text a person reads ---------------------------------------------------------------------


def render(project: dict[str, Any]) -> str:
    lines = [f"project           {project['name']} (created {project['created_at']})",
             f"eval sample rate  {project['eval_sample_rate']}",
             f"retention         {project['retention_days']} days",
             f"cost that counts  {project['cost_preference']}",
             f"cohort keys       {', '.join(project['cohort_keys']) or 'none (every A/B comparison scans its calls)'}"]
    return "\n".join(lines + _regression_lines(project))


def _regression_lines(project: dict[str, Any]) -> list[str]:
    if project["regression_dataset"] is None:
        return ["regression set    none (llmpulse projects set NAME --regression-dataset DATASET "
                f"--regression-target {TARGET_HELP})"]
    rate = project["regression_min_pass_rate"]
    lines = [f"regression set    {project['regression_dataset']}",
             f"  min pass rate   {'none (only a significantly worse pass rate fails)' if rate is None else rate}",
             f"  alerts          {_channels_text(project['regression_channels'])}"]
    targets = project["regression_targets"]
    if not targets:
        return [*lines, "  targets         none: nothing runs until a requested model has one"]
    return lines + [line for model, target in targets.items() for line in _target_lines(model, target)]


def _channels_text(channels: list[int] | None) -> str:
    if channels is None:
        return "every channel of the project"
    return f"channels {', '.join(map(str, channels))}" if channels else "no channel (the incident only)"


def _target_lines(model: str, target: dict[str, Any]) -> list[str]:
    """A field a line: prompts hold commas and spaces."""
    fields = [f"    {name:<14}{target[name]}" for name in TARGET_FIELDS if name in target]
    return [f"  target          {model}", *fields]
