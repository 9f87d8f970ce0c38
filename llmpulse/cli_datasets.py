"""`llmpulse datasets import`: load a golden set from a file into a running llmpulse over its API.

It talks HTTP rather than opening the data directory, so a CI machine can fill a shared server.
Every item is checked locally with the same `parse_item` the API uses, so a bad line is reported
with its line number before anything is sent. Off loopback it sends an API token (--token or
LLMPULSE_TOKEN); the HTTP helpers live in llmpulse.api_client and are re-exported here for the
commands written against this module.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from llmpulse.api_client import ApiFailed, api_options, call, refuse  # call, refuse: re-exported too
from schemas.dataset_files import FORMATS, parse_file_text
from schemas.dataset_items import MAX_ITEMS, ItemError, check_name

ImportFailed = ApiFailed  # its name before llmpulse.api_client


@click.group()
def datasets() -> None:
    """Golden datasets on a running llmpulse."""


@datasets.command("import")
@click.argument("name")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "file_format", type=click.Choice(["jsonl", "csv"]), help="Default: from the extension.")
@api_options
@click.option("--project", default="default", show_default=True)
def import_items(name: str, file: Path, file_format: str | None, url: str, project: str) -> None:
    """Add every item of FILE to dataset NAME (created if missing); one request, one version."""
    try:
        check_name(name)
        items = read_items(file, file_format or format_of(file))
    except ItemError as exc:
        raise click.UsageError(str(exc)) from exc
    api = url.rstrip("/") + "/api/v1/datasets"
    ensure_dataset(api, name, project)
    versions = [post_items(api, name, project, items[at:at + MAX_ITEMS]) for at in range(0, len(items), MAX_ITEMS)]
    click.echo(f"imported {len(items)} items into {name} (version {versions[-1]})")
    if len(versions) > 1:
        click.echo(f"more than {MAX_ITEMS} items: sent in {len(versions)} requests, versions "
                   f"{versions[0]}-{versions[-1]}", err=True)


def format_of(file: Path) -> str:
    """The format from the extension; an unknown one is a usage error rather than a guess."""
    found = FORMATS.get(file.suffix.lower())
    if found is None:
        raise ItemError(f"{file.name}: cannot tell the format from {file.suffix!r}; use --format jsonl|csv")
    return found


def read_items(file: Path, file_format: str) -> list[dict[str, Any]]:
    """Every item of the file, checked (schemas.dataset_files, shared with the UI's import)."""
    try:
        text = file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ItemError(f"{file}: cannot read: {exc}") from exc
    return parse_file_text(text, file_format, str(file))


def ensure_dataset(api: str, name: str, project: str) -> None:
    """Create the dataset; 409 means it already exists, which is what an import into it wants."""
    answer = call("post", api, project, {"name": name})
    if answer.status_code not in (201, 409):
        refuse(answer)


def post_items(api: str, name: str, project: str, items: list[dict[str, Any]]) -> int:
    answer = call("post", f"{api}/{name}/items", project, items)
    if answer.status_code != 201:
        refuse(answer)
    return int(answer.json()["version"])
