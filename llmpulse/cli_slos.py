"""`llmpulse slos list|create|delete|show`: SLOs on a running llmpulse, over its HTTP API.

HTTP rather than the data directory, like `llmpulse eval`, so an SLO can be managed from any
machine; the server validates (`detectors.slo.spec`) and a refusal names the field it is about.
"""

from __future__ import annotations

import json
from typing import Any

import click

from detectors.slo.spec import SLIS, SLO_FILTER_KEYS
from llmpulse.api_client import api_options, call, refuse


def project_option(command: Any) -> Any:
    return click.option("--project", default="default", show_default=True)(command)


@click.group("slos")
def slos() -> None:
    """Service level objectives: error budgets and burn-rate alerts."""


@slos.command("list")
@click.option("--json", "as_json", is_flag=True, help="The API's answer as it is.")
@api_options
@project_option
def list_slos(url: str, project: str, as_json: bool) -> None:
    """Every SLO of the project with its budget left and burn rates."""
    found = request_json("get", url, "/slos", project)["slos"]
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    click.echo(f"{'ID':>4}  {'NAME':<24} {'SLI':<17} {'TARGET':>8} {'WINDOW':>6} {'BUDGET LEFT':>11} "
               f"{'BURN 1H':>8} {'BURN 6H':>8}  ALERTS")
    for slo in found:
        click.echo(slo_line(slo))


@slos.command("show")
@click.argument("slo_id", type=int)
@api_options
@project_option
def show(slo_id: int, url: str, project: str) -> None:
    """One SLO: its definition, budget and burn rates, as JSON."""
    click.echo(json.dumps(request_json("get", url, f"/slos/{slo_id}", project), indent=2))


@slos.command("create")
@click.option("--name", required=True)
@click.option("--sli", required=True, type=click.Choice(list(SLIS)))
@click.option("--threshold", type=float, help="ms for latency and ttft, US dollars for cost_per_request.")
@click.option("--target", required=True, type=float, help="A fraction: 0.999 for 99.9%.")
@click.option("--window", default="28d", show_default=True, help='e.g. "28d", "30d", "7d".')
@click.option("--filter", "filters", multiple=True, metavar="KEY=VALUE",
              help=f"Scope, repeatable; keys: {', '.join(SLO_FILTER_KEYS)}.")
@click.option("--channel", "channels", multiple=True, type=int, help="A channel id to notify, repeatable.")
@api_options
@project_option
def create(url: str, project: str, filters: tuple[str, ...], channels: tuple[int, ...], **fields: Any) -> None:
    """Create an SLO; prints its id."""
    body = {**{k: v for k, v in fields.items() if v is not None}, "filters": parse_filters(filters),
            "channels": list(channels)}
    created = request_json("post", url, "/slos", project, body, expected=201)
    click.echo(f"created SLO {created['id']}: {created['name']}")


@slos.command("delete")
@click.argument("slo_id", type=int)
@api_options
@project_option
def delete(slo_id: int, url: str, project: str) -> None:
    """Delete an SLO (its incidents stay)."""
    request_json("delete", url, f"/slos/{slo_id}", project, expected=204)
    click.echo(f"deleted SLO {slo_id}")


def request_json(method: str, url: str, path: str, project: str, body: Any = None, expected: int = 200) -> Any:
    answer = call(method, url.rstrip("/") + "/api/v1" + path, project, body)
    if answer.status_code != expected:
        refuse(answer)
    return answer.json() if answer.content else None


def parse_filters(pairs: tuple[str, ...]) -> dict[str, str]:
    found = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--filter")
        found[key] = value
    return found


def slo_line(slo: dict[str, Any]) -> str:
    rate = "{:>8}".format
    alerts = ", ".join(f"{a['name']} {a['state']}" for a in slo["alerts"] if a["state"] in ("pending", "firing"))
    return (f"{slo['id']:>4}  {slo['name'][:24]:<24} {_sli(slo):<17} {slo['target'] * 100:>7.4g}% {slo['window']:>6} "
            f"{_budget(slo):>11} {rate(_rate(slo['burn_rate_1h']))} {rate(_rate(slo['burn_rate_6h']))}  "
            f"{alerts or 'ok'}")


def _sli(slo: dict[str, Any]) -> str:
    return slo["sli"] if slo.get("threshold") is None else f"{slo['sli']}<={slo['threshold']:g}"


def _budget(slo: dict[str, Any]) -> str:
    return f"{slo['error_budget_left'] * 100:.1f}%" if slo["counted"] else "counting"


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"
