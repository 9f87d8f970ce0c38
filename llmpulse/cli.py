"""The `llmpulse` command line; with no command it serves."""

from __future__ import annotations

import json
import signal
import sys
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import click

from llmpulse.api_client import api_options, api_token
from llmpulse.cli_access import tokens, users
from llmpulse.cli_base import alert_store_for, build, command_settings, open_metadata
from llmpulse.cli_base import metadata_call as _metadata_call
from llmpulse.cli_datasets import datasets
from llmpulse.cli_eval import eval_group
from llmpulse.cli_guards import guards
from llmpulse.cli_projects import projects
from llmpulse.cli_slos import slos

if TYPE_CHECKING:
    from llmpulse.app import Llmpulse

_SERVE_OPTIONS = [
    click.option("--data-dir", type=click.Path(file_okay=False), help="Data directory (LLMPULSE_DATA_DIR)."),
    click.option("--host", help="Bind address (LLMPULSE_HOST)."),
    click.option("--otlp-port", type=int, help="OTLP/HTTP port (LLMPULSE_OTLP_PORT)."),
    click.option("--ui-port", type=int, help="UI and API port (LLMPULSE_UI_PORT)."),
]


def serve_options(func: Any) -> Any:
    for option in reversed(_SERVE_OPTIONS):
        func = option(func)
    return func


@click.group(invoke_without_command=True)
@click.option("--data-dir", type=click.Path(file_okay=False), help="Data directory (LLMPULSE_DATA_DIR).")
@click.pass_context
def main(ctx: click.Context, data_dir: str | None) -> None:
    """llmpulse: LLM observability and cost monitoring over OpenTelemetry."""
    ctx.ensure_object(dict)
    ctx.obj["overrides"] = {"data_dir": data_dir}
    if ctx.invoked_subcommand is None:
        ctx.invoke(serve)


def _run(service: Llmpulse, *, collector: bool = False, ui: bool = False, detectors: bool = False) -> None:
    def shutdown(signum: int, _frame: Any) -> None:
        click.echo(f"llmpulse: signal {signum}, flushing and stopping", err=True)
        service.stop()
        sys.exit(0)

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    s = service.settings
    if collector:
        click.echo(f"llmpulse: OTLP/HTTP on http://{s.host}:{s.otlp_port}  "
                   f"(export OTEL_EXPORTER_OTLP_ENDPOINT=http://{s.host}:{s.otlp_port})")
    if ui:
        click.echo(f"llmpulse: UI and API on http://{s.host}:{s.ui_port}")
    if detectors and s.detectors:
        click.echo("llmpulse: detector scheduler on (leader lease in the metadata DB)")
    service.serve(collector=collector, ui=ui, detectors=detectors)


@main.command()
@serve_options
@click.pass_context
def serve(ctx: click.Context, **flags: Any) -> None:
    """Run everything in one process on embedded storage (the default command)."""
    _run(build(ctx, **flags), collector=True, ui=True, detectors=True)


@main.command()
@serve_options
@click.pass_context
def collector(ctx: click.Context, **flags: Any) -> None:
    """Run only the OTLP collector (server mode)."""
    _run(build(ctx, **flags), collector=True)


@main.command()
@serve_options
@click.pass_context
def dashboard(ctx: click.Context, **flags: Any) -> None:
    """Run only the UI and read API (server mode)."""
    _run(build(ctx, **flags), ui=True)


@main.command()
@click.pass_context
def detectors(ctx: click.Context) -> None:
    """Run the detector scheduler only (server mode); a second one stands by and takes over."""
    _run(build(ctx, detectors=True), detectors=True)


@main.command()
@click.argument("names", nargs=-1)
@click.pass_context
def detect(ctx: click.Context, names: tuple[str, ...]) -> None:
    """Run detectors now (all, or the NAMES given) and print each outcome; exit 1 if one failed."""
    service = build(ctx)
    service.migrate()
    try:
        outcomes = service.detector_runner.run_many(list(names) or None)
    except KeyError as exc:
        raise click.UsageError(exc.args[0]) from exc
    for outcome in outcomes:
        click.echo(json.dumps(outcome.to_json()))
    if any(o.outcome != "ok" for o in outcomes):
        sys.exit(1)


@main.command()
@click.pass_context
def migrate(ctx: click.Context) -> None:
    """Apply pending ClickHouse and metadata migrations."""
    applied = build(ctx).migrate()
    click.echo("applied: " + (", ".join(applied) if applied else "nothing (up to date)"))


@main.group()
def keys() -> None:
    """Ingest keys: create, list, revoke."""


@keys.command("create")
@click.option("--project", required=True, help="Project the key sends spans to (created if new).")
@click.option("--name", default="", help="A label for the key.")
@click.pass_context
def keys_create(ctx: click.Context, project: str, name: str) -> None:
    metadata = open_metadata(ctx)
    new = _metadata_call(lambda: metadata.create_key(project, name))
    click.echo(new.key)
    click.echo(f"# key {new.info.id} for project {project!r}; it is shown only once. Send it as "
               f"OTEL_EXPORTER_OTLP_HEADERS='Authorization=Bearer {new.key}'", err=True)


@keys.command("list")
@click.option("--project", default=None)
@click.pass_context
def keys_list(ctx: click.Context, project: str | None) -> None:
    metadata = open_metadata(ctx)
    for key in metadata.list_keys(project):
        state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
        click.echo(f"{key.id}\t{key.project}\t{key.prefix}…\t{key.name}\t{state}")


@keys.command("revoke")
@click.argument("key_id", type=int)
@click.pass_context
def keys_revoke(ctx: click.Context, key_id: int) -> None:
    metadata = open_metadata(ctx)
    if not metadata.revoke_key(key_id):
        raise click.ClickException(f"no active key with id {key_id}")
    click.echo(f"revoked key {key_id}")


@main.group()
def prices() -> None:
    """Per-project price overrides (custom models, negotiated discounts)."""


@prices.command("add")
@click.option("--project", default="default")
@click.option("--model", "model_pattern", required=True, help="Model name or glob, e.g. 'ft:gpt-4o-mini:acme:*'.")
@click.option("--provider", default="", help="Limit to one provider.")
@click.option("--input", "input_per_mtok", required=True, help="USD per million input tokens.")
@click.option("--output", "output_per_mtok", required=True, help="USD per million output tokens.")
@click.option("--cache-read", "cache_read_per_mtok", default=None, help="USD per million cache-read tokens.")
@click.option("--cache-write", "cache_write_per_mtok", default=None, help="USD per million cache-write tokens.")
@click.option("--valid-from", default=None, help="ISO-8601 time the price takes effect (default: now).")
@click.pass_context
def prices_add(ctx: click.Context, project: str, model_pattern: str, provider: str, **raw: str | None) -> None:
    metadata = open_metadata(ctx)
    valid_from = _parse_when(raw.pop("valid_from"))
    amounts = {name: _parse_usd(name, value) for name, value in raw.items()}
    override_id = _metadata_call(lambda: metadata.add_price_override(
        project, model_pattern, valid_from=valid_from, provider=provider, **amounts))
    click.echo(f"price override {override_id} for {model_pattern!r} in project {project!r}")


@prices.command("list")
@click.option("--project", default=None)
@click.pass_context
def prices_list(ctx: click.Context, project: str | None) -> None:
    metadata = open_metadata(ctx)
    for row in metadata.list_price_overrides(project):
        click.echo(json.dumps(row, default=str))


def _parse_usd(name: str, value: str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise click.BadParameter(f"{value!r} is not an amount in USD", param_hint=name) from None
    if amount < 0:
        raise click.BadParameter("prices cannot be negative", param_hint=name)
    return amount


def _parse_when(value: str | None) -> datetime:
    if not value:
        return datetime.now(UTC)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not ISO-8601", param_hint="--valid-from") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@main.group()
def rules() -> None:
    """Alert rules (the same validation as POST /api/v1/alert-rules)."""


@rules.command("list")
@click.option("--project", default="default", show_default=True)
@click.pass_context
def rules_list(ctx: click.Context, project: str) -> None:
    for rule in _metadata_call(lambda: _alert_store(ctx).list_rules(project)):
        click.echo(json.dumps({"id": rule.id, **rule.spec, "state": rule.state.get("state", "ok")}))


@rules.command("add")
@click.option("--project", default="default", show_default=True)
@click.option("--name", required=True)
@click.option("--metric", required=True, help="e.g. error_rate, latency_p95_ms, cost_total, hallucination_rate.")
@click.option("--comparator", default=">", show_default=True, type=click.Choice([">", ">=", "<", "<="]))
@click.option("--threshold", required=True, type=float, help="Rates are fractions: 0.05 for 5%.")
@click.option("--window", default="5m", show_default=True)
@click.option("--for", "for_duration", default="0s", show_default=True, help="How long the breach must last.")
@click.option("--severity", default="warning", show_default=True)
@click.option("--filter", "filters", multiple=True, help="key=value, e.g. model=gpt-4o (repeatable).")
@click.option("--channel", "channels", multiple=True, type=int, help="Channel id to notify (repeatable).")
@click.pass_context
def rules_add(ctx: click.Context, project: str, filters: tuple[str, ...], channels: tuple[int, ...],
              for_duration: str, **fields: Any) -> None:
    from datetime import timedelta

    from detectors.alerts.rules import AlertInputError, parse_rule

    settings = command_settings(ctx)
    store = alert_store_for(settings)
    body = {**fields, "for": for_duration, "channels": list(channels), "filters": _key_values(filters)}
    try:
        known = _metadata_call(lambda: store.channel_ids(project))
        spec = parse_rule(body, known_channels=known,
                          default_renotify=timedelta(seconds=settings.renotify_seconds))
    except AlertInputError as exc:
        raise click.BadParameter(exc.message, param_hint=f"--{exc.field or 'rule'}") from exc
    click.echo(store.create_rule(project, spec.to_json()))


@rules.command("delete")
@click.argument("rule_id", type=int)
@click.option("--project", default="default", show_default=True)
@click.pass_context
def rules_delete(ctx: click.Context, rule_id: int, project: str) -> None:
    """Delete a rule; its open incident is resolved (the CLI sends no all-clear: DELETE
    /api/v1/alert-rules/<id> on the running service does)."""
    from detectors.alerts.removal import remove_rule
    from schemas.metadata.models import utcnow

    if not _metadata_call(lambda: remove_rule(_alert_store(ctx), None, project, rule_id, utcnow())):
        click.echo(f"no alert rule {rule_id} in project {project!r}", err=True)
        sys.exit(1)
    click.echo(f"alert rule {rule_id} deleted (an open incident of it is resolved)")


def _alert_store(ctx: click.Context) -> Any:
    return alert_store_for(command_settings(ctx))  # the metadata tables only: no ClickHouse needed to manage rules


def _key_values(pairs: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} is not key=value", param_hint="--filter")
        out[key.strip()] = value.strip()
    return out


@main.command()
@click.option("--endpoint", default="http://127.0.0.1:4318", show_default=True, help="OTLP/HTTP endpoint.")
@click.option("--traces", "trace_count", default=300, show_default=True, help="How many traces to send.")
@click.option("--key", default=None, help="Ingest key, if the collector requires one.")
@click.option("--seed", default=7, show_default=True)
@click.option("--evaluations/--no-evaluations", default=True, show_default=True,
              help="Also fill the Evaluations pages (a golden set, two experiments) over the UI/API port.")
@click.option("--alerts/--no-alerts", default=True, show_default=True,
              help="Add three example alert rules (named 'demo: …'), so the Alerts page shows incidents.")
@api_options
def demo(endpoint: str, trace_count: int, key: str | None, seed: int, evaluations: bool, alerts: bool,
         url: str) -> None:
    """Send realistic LLM traffic through the OpenTelemetry SDK, run the detectors once, and say
    which pages to open, so the UI has data at once."""
    from llmpulse.demo.alerts import add_example_rules, firing_examples
    from llmpulse.demo.evaluations import DemoApi, run_evaluations
    from llmpulse.demo.send import run_demo
    from llmpulse.demo.tour import describe_tour, run_detectors_now, stored_calls, tour

    api = DemoApi(url, token=api_token())
    before = stored_calls(api)  # the demo's calls are counted from here (the project may hold others)
    with click.progressbar(length=trace_count, label="sending demo traces") as bar:
        summary = run_demo(endpoint, traces=trace_count, seed=seed, api_key=key,
                           progress=lambda done, total: bar.update(done - bar.pos))
    click.echo(summary.describe())
    click.echo(f"llm_calls={summary.llm_calls}, shadow_calls={summary.shadow_calls}, spans={summary.spans}, "
               f"errors={summary.errors}")
    if evaluations:
        click.echo("running two experiments on a golden set ...")
        report = run_evaluations(api, endpoint, ingest_key=key, answers=summary.rag_answers)
        click.echo(report.describe())
    if alerts and before is not None:
        click.echo(add_example_rules(api))
    click.echo(run_detectors_now(api, before, summary.llm_calls))
    firing = firing_examples(api) if alerts else []
    click.echo(describe_tour(url, tour(summary, evaluations, firing)))


main.add_command(datasets)
main.add_command(users)
main.add_command(tokens)
main.add_command(eval_group)
main.add_command(projects)
main.add_command(slos)
main.add_command(guards)

if __name__ == "__main__":
    main()
