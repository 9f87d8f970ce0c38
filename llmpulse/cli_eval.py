"""`llmpulse eval run|show|gate`: experiments on a running llmpulse, over its HTTP API.

`eval gate` is what a CI job runs. Its exit code is the verdict and nothing else: 0 the candidate
passes, 1 it fails; 2 means no verdict was reached (a bad option, an unknown experiment, two
experiments on different dataset versions, one still running or failed, a server that cannot be
reached or refuses), so a job can tell "the change is worse" from "the gate could not run" while
either blocks a merge. `eval run` exits 0 when the experiment is done, 1 when it failed, 2 on a
usage error. The HTTP calls are `llmpulse.cli_datasets`'s, so every API client says the same
thing about an unreachable server or a refusal.
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

import click

from llmpulse.api_client import ApiFailed, call, refuse, token_option, url_option
from llmpulse.eval_report import progress, render_markdown, render_summary, render_text

POLL_SECONDS = 0.5
RENDERERS = {"text": render_text, "markdown": render_markdown,
             "json": lambda comparison: json.dumps(comparison, indent=2, ensure_ascii=False)}


class NoVerdict(click.ClickException):
    """The API refused or could not be reached: exit 2, never 1, which means "the candidate fails"."""

    exit_code = 2


def api_options(command: Any) -> Any:
    """--project, --url and --token (off loopback: an API token, `llmpulse tokens create`)."""
    command = click.option("--project", default="default", show_default=True)(command)
    return url_option(token_option(command))


@click.group("eval")
def eval_group() -> None:
    """Experiments on a running llmpulse: run one, show one, gate a candidate in CI."""


@eval_group.command("gate")
@click.option("--candidate", required=True, help="The experiment to judge.")
@click.option("--baseline", help="The experiment to compare it with (same dataset version); without it the "
                                 "candidate is gated alone on --min-pass-rate.")
@click.option("--min-pass-rate", type=click.FloatRange(0, 1), help="Fraction, e.g. 0.8.")
@click.option("--max-regressions", type=click.IntRange(min=0), help="Items passing on the baseline, not on the "
                                                                     "candidate.")
@click.option("--max-cost-increase", type=float, help="Percent of the baseline's cost, e.g. 20.")
@click.option("--max-p95-increase", type=float, help="Percent of the baseline's p95 latency, e.g. 30.")
@click.option("--format", "output_format", type=click.Choice(sorted(RENDERERS)), default="text", show_default=True)
@api_options
@click.pass_context
def gate(ctx: click.Context, candidate: str, baseline: str | None, output_format: str, url: str, project: str,
         **thresholds: float | None) -> None:
    """Compare CANDIDATE with BASELINE and exit 0 if it passes, 1 if it fails, 2 if no verdict."""
    query = {"candidate": candidate, "baseline": baseline, **thresholds}
    comparison = get_json(url, "/experiments/compare", project, {k: v for k, v in query.items() if v is not None})
    click.echo(RENDERERS[output_format](comparison))
    ctx.exit(0 if comparison["passed"] else 1)


@eval_group.command("run")
@click.option("--dataset", required=True)
@click.option("--dataset-version", type=click.IntRange(min=0), help="Default: the dataset's current version.")
@click.option("--model", required=True)
@click.option("--endpoint", help="An OpenAI-compatible base URL (the server's default when left out).")
@click.option("--name", help="Default: DATASET-MODEL-<UTC time>.")
@click.option("--system-prompt")
@click.option("--prompt-template", help="With {input} and the item's template variables.")
@click.option("--temperature", type=click.FloatRange(0, 2))
@click.option("--max-tokens", type=click.IntRange(min=1))
@click.option("--concurrency", type=click.IntRange(min=1), help="Calls in flight at once.")
@click.option("--api-key-env", metavar="VAR", help="Send the endpoint's key from this (the CLI's) environment "
                                                   "variable; the server stores it sealed.")
@click.option("--server-key-env", metavar="VAR", help="Or: the server reads the key from its own environment "
                                                      "variable VAR (a name the server allows for target keys).")
@click.option("--wait", is_flag=True, help="Follow the run with a progress bar and end with its summary.")
@api_options
@click.pass_context
def run(ctx: click.Context, wait: bool, url: str, project: str, api_key_env: str | None, **options: Any) -> None:
    """Start an experiment: DATASET's current version against MODEL; exit 0 done, 1 failed, 2 usage error."""
    body = experiment_body(options, api_key_env)
    started = send_json(url, "/experiments", project, body)
    click.echo(f"started experiment {started['name']} ({started.get('status', 'running')})")
    if not wait:
        return
    finished = follow(url, project, started["name"])
    click.echo(render_summary(finished))
    ctx.exit(0 if finished["status"] == "done" else 1)


@eval_group.command("show")
@click.argument("name")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@api_options
def show(name: str, output_format: str, url: str, project: str) -> None:
    """An experiment's summary: pass rate with its interval, errors, cost, latency, scores."""
    experiment = get_json(url, f"/experiments/{quote(name, safe='')}", project)
    click.echo(json.dumps(experiment, indent=2, ensure_ascii=False) if output_format == "json"
               else render_summary(experiment))


def experiment_body(options: dict[str, Any], api_key_env: str | None) -> dict[str, Any]:
    """The POST /api/v1/experiments body; a named key variable that is unset is a usage error."""
    body = {key: value for key, value in options.items() if value is not None}
    if "server_key_env" in body:
        body["api_key_env"] = body.pop("server_key_env")
    if "concurrency" in body:
        body["max_concurrency"] = body.pop("concurrency")
    body.setdefault("name", f"{options['dataset']}-{options['model']}-{datetime.now(UTC):%Y%m%d-%H%M%S}")
    if api_key_env:
        key = os.environ.get(api_key_env)
        if not key:
            raise click.UsageError(f"--api-key-env {api_key_env}: that environment variable is not set")
        body["api_key"] = key
    return body


def follow(url: str, project: str, name: str) -> dict[str, Any]:
    """Poll the experiment until it is no longer running, with a progress bar on stderr (stdout keeps
    only the summary, for a CI log or a pipe)."""
    path = f"/experiments/{quote(name, safe='')}"
    experiment = get_json(url, path, project)
    with click.progressbar(length=max(progress(experiment)[1], 1), label=f"running {name}",
                           file=sys.stderr) as bar:
        while experiment["status"] == "running":
            bar.update(progress(experiment)[0] - bar.pos)
            time.sleep(POLL_SECONDS)
            experiment = get_json(url, path, project)
        bar.update(progress(experiment)[0] - bar.pos)
    return experiment


def get_json(url: str, path: str, project: str, query: dict[str, Any] | None = None) -> dict[str, Any]:
    address = f"{url.rstrip('/')}/api/v1{path}" + (f"?{urlencode(query)}" if query else "")
    return answer_json("get", address, project, None, (200,))


def send_json(url: str, path: str, project: str, body: dict[str, Any]) -> dict[str, Any]:
    return answer_json("post", f"{url.rstrip('/')}/api/v1{path}", project, body, (200, 201, 202))


def answer_json(method: str, address: str, project: str, body: Any, ok: tuple[int, ...]) -> dict[str, Any]:
    try:
        answer = call(method, address, project, body)
        if answer.status_code not in ok:
            refuse(answer)
        return answer.json()
    except ApiFailed as exc:
        raise NoVerdict(exc.message) from None
    except ValueError:
        raise NoVerdict(f"llmpulse answered {address} with something that is not JSON") from None
