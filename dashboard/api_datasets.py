"""API of golden datasets (issue #22): create, list, read a version, add items, add an item taken
from a recorded LLM span, edit and remove an item, delete a dataset.

Checking an item is `schemas.dataset_items` (shared with a file importer), storing it is
`schemas.metadata.datasets`, taking one from a span is `dashboard.annotations` (shared with the
annotation queue and the UI); this module maps their errors to 400, 404 and 409.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from dashboard.annotations import found as _found
from dashboard.annotations import hex_id, span_item
from dashboard.params import PROJECT, ApiError, int_arg, json_body, project_arg, takes
from schemas.clickhouse.store import Store
from schemas.dataset_items import ItemError, check_name, parse_changes, parse_items
from schemas.metadata.datasets import DatasetExists, DatasetStore
from schemas.metadata.store import Metadata

MAX_VERSION = 2**31 - 1


def create_datasets_blueprint(store: Store, metadata: Metadata) -> Blueprint:
    api = Blueprint("datasets_api", __name__, url_prefix="/api/v1")
    datasets = DatasetStore(metadata)

    @api.post("/datasets")
    @takes(PROJECT)
    def create_dataset() -> Any:
        project, body = project_arg(metadata), json_body()
        name, description = _checked(check_name, body.get("name")), body.get("description") or ""
        if not isinstance(description, str):
            raise ApiError(400, "description must be a text")
        try:
            created = datasets.create(project, name, description)
        except DatasetExists as exc:
            raise ApiError(409, str(exc)) from None
        return jsonify({"name": created["name"], "version": created["version"]}), 201

    @api.get("/datasets")
    @takes(PROJECT)
    def list_datasets() -> Any:
        return jsonify({"datasets": datasets.list_datasets(project_arg(metadata))})

    @api.get("/datasets/<name>")
    @takes(PROJECT, ("version",))
    def get_dataset(name: str) -> Any:
        project = project_arg(metadata)
        version = int_arg("version", -1, 0, MAX_VERSION) if request.args.get("version") else None
        return jsonify(_found(lambda: datasets.read(project, name, version)))

    @api.post("/datasets/<name>/items")
    @takes(PROJECT)
    def add_items(name: str) -> Any:
        project = project_arg(metadata)
        items = _checked(parse_items, request.get_json(silent=True))
        version, _ = _found(lambda: datasets.add_items(project, name, items))
        return jsonify({"added": len(items), "version": version}), 201

    @api.post("/datasets/<name>/items/from-span")
    @takes(PROJECT)
    def add_item_from_span(name: str) -> Any:
        project, body = project_arg(metadata), json_body()
        _found(lambda: datasets.read(project, name))  # 404 for the dataset before looking up the span
        trace_id, span_id = hex_id(body, "trace_id", 32), hex_id(body, "span_id", 16)
        expected = body.get("expected")
        if expected is not None and not isinstance(expected, str):
            raise ApiError(400, "expected must be a text")
        item = span_item(store, project, trace_id, span_id, expected)
        version, (item_id,) = _found(lambda: datasets.add_items(project, name, [item]))
        return jsonify({"added": 1, "version": version, "item_id": item_id}), 201

    @api.patch("/datasets/<name>/items/<int:item_id>")
    @takes(PROJECT)
    def edit_item(name: str, item_id: int) -> Any:
        project = project_arg(metadata)
        changes = _checked(lambda body: parse_changes(body, item_id), request.get_json(silent=True))
        return jsonify({"version": _found(lambda: datasets.edit_item(project, name, item_id, changes)),
                        "item_id": item_id})

    @api.delete("/datasets/<name>/items/<int:item_id>")
    @takes(PROJECT)
    def remove_item(name: str, item_id: int) -> Any:
        project = project_arg(metadata)
        return jsonify({"version": _found(lambda: datasets.remove_item(project, name, item_id)),
                        "item_id": item_id})

    @api.delete("/datasets/<name>")
    @takes(PROJECT)
    def delete_dataset(name: str) -> Any:
        project = project_arg(metadata)
        _found(lambda: datasets.delete(project, name))
        return jsonify({"name": name, "deleted": True})

    return api


def _checked(check: Any, value: Any) -> Any:
    try:
        return check(value)
    except ItemError as exc:
        raise ApiError(400, str(exc)) from None
