"""`llmpulse guards list|show|create|delete|status`: guards (LLM circuit breakers) over the HTTP API.

HTTP like `llmpulse slos`, so a guard can be managed from any machine; the server validates
(`detectors.alerts.guard_rules.parse_guard`) and a refusal exits 1 naming the field. `status` asks
what a gateway asks (`GET /api/v1/guard/status`) and says it in its exit code too: 0 when a call
may go ahead, 3 when it may not, so a shell script can write `llmpulse guards status --model
gpt-4o-mini && run_batch`. Exit 1 stays "refused or unreachable", 2 "an option that cannot be read".
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import click

from detectors.alerts.guard_rules import effective_state, state_from_json
from detectors.alerts.guard_status import STATUS_KEYS
from detectors.alerts.rules import COMPARATORS, METRICS, SEVERITIES, AlertInputError, parse_duration
from detectors.notify.message import format_value
from llmpulse.api_client import api_options
from llmpulse.cli_slos import project_option, request_json

REFUSED_EXIT = 3  # `status`: the gateway would be told no
TRICKLE_HELP = "Calls let through once half-open: a fraction (0.1 or 10%) or N a minute (6/min)."
_PER_MINUTE = re.compile(r"^\s*(\d+)\s*/\s*min(ute)?\s*$")
_STATE_LABEL = {"closed": "closed", "open": "OPEN", "half_open": "half-open"}


def scope_options(wording: str) -> Callable[[Any], Any]:
    """--model --service --user --tag: a guard's filters, or what a status request says of a call."""
    def add(command: Any) -> Any:
        for key in reversed(STATUS_KEYS):
            command = click.option(f"--{key}", default=None, help=wording.format(key=key))(command)
        return command
    return add


@click.group("guards")
def guards() -> None:
    """Guards: circuit breakers an LLM gateway asks before each call (GET /api/v1/guard/status)."""


@guards.command("list")
@click.option("--json", "as_json", is_flag=True, help="The API's answer as it is.")
@api_options
@project_option
def list_guards(url: str, project: str, as_json: bool) -> None:
    """Every guard of the project with the state a gateway is told now."""
    found = request_json("get", url, "/guards", project)["guards"]
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    if not found:
        click.echo("no guards (llmpulse guards create --help)")
        return
    click.echo(f"{'ID':>4}  {'NAME':<24} {'CONDITION':<36} {'SCOPE':<24} {'STATE':<9} {'VALUE':>10}  "
               f"{'COOL-DOWN':>9}  TRICKLE")
    for guard in found:
        click.echo(guard_line(guard, datetime.now(UTC)))


@guards.command("show")
@click.argument("guard_id", type=int)
@api_options
@project_option
def show(guard_id: int, url: str, project: str) -> None:
    """One guard: its definition and stored state, as JSON."""
    click.echo(json.dumps(request_json("get", url, f"/guards/{guard_id}", project), indent=2))


@guards.command("create")
@click.option("--name", required=True)
@click.option("--metric", required=True, type=click.Choice(list(METRICS)), help="Any alert-rule metric.")
@click.option("--comparator", default=">", show_default=True, type=click.Choice(list(COMPARATORS)))
@click.option("--threshold", required=True, type=float,
              help="In the metric's unit: a fraction for rates (0.5 for 50%), ms, US dollars.")
@click.option("--window", default="5m", show_default=True, help='The sliding window: "5m", "1h".')
@scope_options("Only the calls of this {key} (a filter; none: all calls).")
@click.option("--cooldown", help="How long an open guard refuses calls before it lets a trickle through "
                                 "(server default 5m).")
@click.option("--trickle", help=TRICKLE_HELP + " Server default 6/min.")
@click.option("--severity", type=click.Choice(SEVERITIES), help="Of the incident an opening fires.")
@click.option("--channel", "channels", multiple=True, type=int, help="A channel id to notify, repeatable.")
@api_options
@project_option
def create(url: str, project: str, channels: tuple[int, ...], trickle: str | None, **fields: Any) -> None:
    """Create a guard; prints its id."""
    filters = {key: fields.pop(key) for key in STATUS_KEYS if fields.get(key) is not None}
    body = {**{k: v for k, v in fields.items() if v is not None}, "filters": filters, "channels": list(channels)}
    if trickle is not None:
        body["trickle"] = parse_trickle(trickle)
    created = request_json("post", url, "/guards", project, body, expected=201)
    click.echo(f"created guard {created['id']}: {created['name']}")


@guards.command("delete")
@click.argument("guard_id", type=int)
@api_options
@project_option
def delete(guard_id: int, url: str, project: str) -> None:
    """Delete a guard; an open guard's incident is resolved with it."""
    request_json("delete", url, f"/guards/{guard_id}", project, expected=204)
    click.echo(f"deleted guard {guard_id}")


@guards.command("status")
@scope_options("The {key} of the call about to be made.")
@click.option("--json", "as_json", is_flag=True, help="The API's answer as it is.")
@api_options
@project_option
@click.pass_context
def status(ctx: click.Context, url: str, project: str, as_json: bool, **call: str | None) -> None:
    """May a call with this model, service, user and tag go ahead? Exit 0 if so, 3 if not
    (1: refused or unreachable), e.g. `llmpulse guards status --model gpt-4o-mini && run_batch`.

    It is the gateway's own question, so while a guard is half-open this ask takes one of its
    trickle's places, as a call would.
    """
    query = urlencode({key: value for key, value in call.items() if value})
    answer = request_json("get", url, "/guard/status" + (f"?{query}" if query else ""), project)
    click.echo(json.dumps(answer, indent=2) if as_json else verdict_text(answer))
    if not answer["allowed"]:
        ctx.exit(REFUSED_EXIT)


def parse_trickle(text: str) -> dict[str, float | int]:
    """`0.1` or `10%` is {"fraction": 0.1}; `6/min` is {"per_minute": 6}; the server checks the range."""
    per_minute = _PER_MINUTE.match(text)
    if per_minute:
        return {"per_minute": int(per_minute.group(1))}
    number = text.strip().removesuffix("%")
    try:
        fraction = float(number)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a fraction (0.1, 10%) or N/min (6/min)",
                                 param_hint="--trickle") from None
    return {"fraction": fraction / 100 if text.strip().endswith("%") else fraction}


def verdict_text(answer: dict[str, Any]) -> str:
    head = ("allowed" if answer["allowed"] else f"refused: retry in {answer['retry_after_s']} s") + \
        f" ({_STATE_LABEL.get(answer['state'], answer['state'])})"
    return "\n".join([head, *(f"  {_reason_text(r)}" for r in answer["reasons"])])


def _reason_text(reason: dict[str, Any]) -> str:
    value = format_value(reason["signal"], reason["value"])
    threshold = format_value(reason["signal"], reason["threshold"])
    scope = _scope(reason.get("filters") or {})
    return (f"{reason['guard']} {_STATE_LABEL.get(reason['state'], reason['state'])}: {reason['signal']} {value} "
            f"{reason['comparator']} {threshold} over {reason['window']}" + (f" ({scope})" if scope else ""))


def guard_line(guard: dict[str, Any], now: datetime) -> str:
    condition = (f"{guard['metric']} {guard['comparator']} {format_value(guard['metric'], guard['threshold'])} "
                 f"over {guard['window']}")
    name = guard["name"] + ("" if guard.get("enabled", True) else " (off)")
    scope = _scope(guard["filters"]) or "all calls"
    return (f"{guard['id']:>4}  {name[:24]:<24} {condition[:36]:<36} {scope[:24]:<24} "
            f"{_shown_state(guard, now):<9} {format_value(guard['metric'], guard['value']):>10}  "
            f"{guard['cooldown']:>9}  {_trickle_text(guard['trickle'])}")


def _shown_state(guard: dict[str, Any], now: datetime) -> str:
    """The state a gateway is told: an open guard past its cool-down is half-open before the next tick."""
    try:
        cooldown = parse_duration(guard["cooldown"], "cooldown")
    except AlertInputError:
        return _STATE_LABEL.get(guard["state"], guard["state"])
    return _STATE_LABEL[effective_state(state_from_json(guard), cooldown, now)]


def _trickle_text(trickle: dict[str, Any]) -> str:
    if "fraction" in trickle:
        return f"{trickle['fraction'] * 100:g}% of calls"
    return f"{trickle.get('per_minute')}/min"


def _scope(filters: dict[str, str]) -> str:
    return ", ".join(f"{key}={value}" for key, value in filters.items())
