"""API of golden datasets (issue #22's first part): create, list, read a version, add items,
add an item taken from a recorded LLM span.

Checking an item is `schemas.dataset_items` (shared with a file importer), storing it is
`schemas.metadata.datasets`; this module maps their errors to 400, 404 and 409.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from dashboard.params import PROJECT, ApiError, int_arg, json_body, project_arg, takes
from schemas.clickhouse import queries
from schemas.clickhouse.store import Store
from schemas.dataset_items import DatasetItem, ItemError, check_name, parse_items
from schemas.metadata.datasets import DatasetExists, DatasetNotFound, DatasetStore
from schemas.metadata.store import Metadata

HEX = frozenset("0123456789abcdef")
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
        item = span_item(store, project, body)
        version, (item_id,) = _found(lambda: datasets.add_items(project, name, [item]))
        return jsonify({"added": 1, "version": version, "item_id": item_id}), 201

    return api


def span_item(store: Store, project: str, body: dict[str, Any]) -> DatasetItem:
    """An item from a recorded span: its input messages, and its answer as expected unless given."""
    trace_id, span_id = _hex_id(body, "trace_id", 32), _hex_id(body, "span_id", 16)
    expected = body.get("expected")
    if expected is not None and not isinstance(expected, str):
        raise ApiError(400, "expected must be a text")
    span = _find_span(store, project, trace_id, span_id)
    messages = [{"role": m["role"], "content": m["content"]} for m in span["input_messages"]
                if isinstance(m.get("content"), str) and m["content"]]
    if not messages:
        raise ApiError(400, f"span {span_id} has no input messages to take as the item's input")
    if expected is None:
        expected = "\n".join(m["content"] for m in span["output_messages"] if isinstance(m.get("content"), str))
    return DatasetItem(input=messages, expected=expected or None, trace_id=trace_id, span_id=span_id)


def _find_span(store: Store, project: str, trace_id: str, span_id: str) -> dict[str, Any]:
    """The span as GET /api/v1/traces/<id> shows it: messages carried as log records included."""
    from dashboard.api import assemble_spans  # dashboard.api registers this blueprint: import late

    spans = [s for s in queries.get_trace_spans(store, project, trace_id) if s["span_id"] == span_id]
    if not spans:
        raise ApiError(404, f"span {span_id} of trace {trace_id} not found in project {project!r}")
    events = [e for e in queries.get_trace_events(store, project, trace_id) if e["span_id"] == span_id]
    return assemble_spans(spans, events)[0]


def _hex_id(body: dict[str, Any], key: str, length: int) -> str:
    value = body.get(key)
    if not isinstance(value, str) or len(value) != length or not set(value.lower()) <= HEX:
        raise ApiError(400, f"{key} must be {length} hex characters, got {value!r}")
    return value.lower()


def _checked(check: Any, value: Any) -> Any:
    try:
        return check(value)
    except ItemError as exc:
        raise ApiError(400, str(exc)) from None


def _found(action: Any) -> Any:
    try:
        return action()
    except DatasetNotFound as exc:
        raise ApiError(404, str(exc)) from None
