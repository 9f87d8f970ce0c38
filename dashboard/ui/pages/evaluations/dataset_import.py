"""Importing a JSONL or CSV file into a dataset from the browser: the UI's `llmpulse datasets import`.

Two steps, as a careful person wants them: choosing a file only reads and checks it (the same
readers and item check as the CLI and the API: schemas.dataset_files, schemas.dataset_items) and
says how many items it holds or which line is wrong; "Import" then stores all of them as one new
version, or nothing. Importing changes data, so a viewer's page shows a note instead of the form, and
its callback checks the admin role itself (Dash callbacks POST to /_dash-update-component, which any
signed-in user reaches).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
from typing import Any

from dash import Dash, Input, Output, State, dcc, html
from dash.exceptions import PreventUpdate

from dashboard.ui.context import UiContext
from dashboard.ui.forms import clicked, error, field, ok, refused
from dashboard.ui.pages.evaluations import common
from dashboard.ui.urls import PageQuery, parse_query
from schemas.dataset_files import format_of, parse_file_text
from schemas.dataset_items import DatasetItem, ItemError, check_name, parse_items
from schemas.metadata.datasets import DatasetExists, DatasetStore
from schemas.metadata.store import MetadataError

ADMIN_ONLY = "Importing a dataset needs the admin role."
MAX_BYTES = 20 * 1024 * 1024  # a golden set is 50-500 items; the browser refuses a larger file


def form(ctx: UiContext, project: str, name: str) -> Any:
    """The import control; `name` is the dataset whose page it is on, empty on the list. A viewer is
    shown a note instead, as the run form does."""
    if refused(ctx):
        return common.empty(ADMIN_ONLY + " Ask an admin, or import from CI with an admin's API token "
                            "(llmpulse datasets import --token).", "dataset-import")
    return html.Div([
        dcc.Store(id="evals-project", data=project),
        html.Div([
            field("Dataset (created if missing)", dcc.Input(id="import-name", type="text", value=name,
                                                             placeholder="golden-set")),
            dcc.Upload(html.Div(["Drop a .jsonl or .csv file here, or ", html.A("choose one")]),
                       id="import-upload", max_size=MAX_BYTES, multiple=False, className="evals-upload"),
            html.Button("Import", id="import-run", className="button"),
        ], className="form evals-import"),
        html.Div(id="import-checked", className="message"),
        html.Div(id="import-message", className="message"),
        html.P(["JSONL: one item per line, ", html.Code('{"input": "…", "expected": "…", "assertions": '
                                                        '{"must_contain": ["…"]}, "metadata": {…}}'),
                ". CSV: columns input, expected, assertions (JSON) and metadata.KEY."], className="muted"),
    ], id="dataset-import")


def register(app: Dash, ctx: UiContext) -> None:
    @app.callback(Output("import-checked", "children"), Input("import-upload", "contents"),
                  State("import-upload", "filename"), prevent_initial_call=True)
    def check_file(contents: str | None, filename: str | None) -> Any:
        """Only reads and checks the file: nothing is stored until Import."""
        if not contents:
            raise PreventUpdate
        try:
            items = read_upload(contents, filename or "")
        except ItemError as exc:
            return error(f"{filename}: {exc}", "import-error")
        return ok(f"{filename}: {len(items)} items, all valid. Press Import to add them as a new version.",
                  "import-ready")

    @app.callback(Output("import-message", "children"), Input("import-run", "n_clicks"),
                  State("evals-project", "data"), State("import-name", "value"), State("import-upload", "contents"),
                  State("import-upload", "filename"), State("url", "search"), prevent_initial_call=True)
    def run_import(clicks: int | None, project: str, name: Any, contents: Any, filename: Any,
                   search: str | None) -> Any:
        if not clicked():
            raise PreventUpdate
        if refused(ctx):
            return error(ADMIN_ONLY, "import-error")
        return import_file(ctx, parse_query(search), project, name, contents, filename)


def read_upload(contents: str, filename: str) -> list[DatasetItem]:
    """The items of an uploaded file (a `data:...;base64,` URL, as dcc.Upload gives it), checked."""
    file_format = format_of(filename)
    try:
        text = base64.b64decode(contents.partition(",")[2], validate=True).decode("utf-8-sig")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ItemError(f"cannot read the file as UTF-8 text: {exc}") from None
    return parse_items(parse_file_text(text, file_format, filename))


def import_file(ctx: UiContext, query: PageQuery, project: str, name: Any, contents: Any, filename: Any) -> Any:
    """Create the dataset if needed and add every item as one version; link to that version."""
    if not contents or not filename:
        return error("Choose a .jsonl or .csv file first.", "import-error")
    try:
        name = check_name(str(name or "").strip())
        items = read_upload(str(contents), str(filename))
        version = _store(ctx, project, name, items)
    except (ItemError, MetadataError) as exc:
        return error(f"Nothing imported: {exc}.", "import-error")
    opened = common.link(query, common.dataset_path(name), version=str(version))
    return html.Span([ok(f"Imported {len(items)} items into {name} as version {version}. ", "import-done"),
                      dcc.Link(f"Open version {version} →", href=opened, id="import-open")])


def _store(ctx: UiContext, project: str, name: str, items: list[DatasetItem]) -> int:
    datasets = DatasetStore(ctx.metadata)
    with contextlib.suppress(DatasetExists):  # importing into an existing dataset is what the page offers
        datasets.create(project, name)
    version, _ = datasets.add_items(project, name, items)
    return version
