"""What every command that opens the data directory shares: the service built from the settings,
and metadata errors turned into a clean exit. Its own module so command groups can live in
files of their own (cli_access.py) without importing cli.py, which imports them."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any, TypeVar

import click

from llmpulse.app import Llmpulse
from llmpulse.config import ConfigError, load_settings, unknown_variables

log = logging.getLogger("llmpulse")
T = TypeVar("T")


def build(ctx: click.Context, **overrides: Any) -> Llmpulse:
    try:
        settings = load_settings(os.environ, {**ctx.obj.get("overrides", {}), **overrides})
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from exc
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for warning in unknown_variables(os.environ):
        log.warning("%s", warning)
    # APScheduler logs two INFO lines per job run (the lease alone renews every 10 s); runs are
    # recorded in the metadata DB and failures logged by the runner, so keep only its warnings.
    logging.getLogger("apscheduler").setLevel(max(logging.WARNING, logging.getLogger().level))
    return Llmpulse(settings)


def metadata_call(call: Callable[[], T]) -> T:
    """The call's result; bad metadata input (a MetadataError or TokenError) exits 1 with its message."""
    from schemas.metadata.store import MetadataError
    from schemas.metadata.tokens import TokenError

    try:
        return call()
    except (MetadataError, TokenError) as exc:
        raise click.ClickException(str(exc)) from exc
