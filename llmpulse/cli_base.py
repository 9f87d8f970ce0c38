"""What every command that opens the data directory shares: the service built from the settings,
and metadata errors turned into a clean exit. Its own module so command groups can live in
files of their own (cli_access.py) without importing cli.py, which imports them."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from llmpulse.config import ConfigError, Settings, load_settings, unknown_variables

if TYPE_CHECKING:
    from llmpulse.app import Llmpulse
    from schemas.metadata.alert_store import AlertStore
    from schemas.metadata.store import Metadata

log = logging.getLogger("llmpulse")
T = TypeVar("T")


def build(ctx: click.Context, **overrides: Any) -> Llmpulse:
    # The service (engine, Dash, scikit-learn) is imported here, not at the top: commands that talk
    # to a running llmpulse over HTTP, or only to the metadata DB, then start in a fraction of the time.
    from llmpulse.app import Llmpulse

    return Llmpulse(command_settings(ctx, **overrides))


def open_metadata(ctx: click.Context) -> Metadata:
    """The metadata DB with its tables made, as `serve` makes them (`Llmpulse.prepare_metadata`),
    for the commands that manage users, tokens, keys, prices and rules: no engine, no UI to load."""
    return metadata_for(command_settings(ctx))


def metadata_for(settings: Settings) -> Metadata:
    from schemas.metadata.store import Metadata, create_metadata_engine

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    metadata = Metadata(create_metadata_engine(settings.resolved_metadata_url))
    metadata.migrate()
    return metadata


def alert_store_for(settings: Settings) -> AlertStore:
    """Alert rules and channels in the metadata DB, channel secrets sealed with the service's key."""
    from schemas.metadata.alert_store import AlertStore
    from schemas.metadata.secrets import SecretBox, load_or_create_key

    metadata = metadata_for(settings)
    return AlertStore(metadata, SecretBox(load_or_create_key(settings.secret_key, settings.data_dir / "secret.key")))


def command_settings(ctx: click.Context, **overrides: Any) -> Settings:
    """The settings from the environment and the command's flags, logging set up to match."""
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
    return settings


def metadata_call(call: Callable[[], T]) -> T:
    """The call's result; bad metadata input (a MetadataError or TokenError) exits 1 with its message."""
    from schemas.metadata.store import MetadataError
    from schemas.metadata.tokens import TokenError

    try:
        return call()
    except (MetadataError, TokenError) as exc:
        raise click.ClickException(str(exc)) from exc
