"""What a golden-dataset item is, and the one check of it that the API and a file importer share.

An item is `{"input": str | [{"role", "content"}], "expected"?: str, "assertions"?: {...},
"metadata"?: {...}}`. Checking is pure (no DB, no Flask) so `POST /api/v1/datasets/<name>/items`
and a later `llmpulse datasets import` refuse the same things with the same words. A bad item
raises `ItemError` naming its index and field; callers store nothing of a request with one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")  # fits in a URL path unescaped
ITEM_FIELDS = ("input", "expected", "assertions", "metadata")
ASSERTION_KINDS = ("must_contain", "must_not_contain", "regex", "valid_json", "json_schema")
MAX_ITEMS = 10_000  # per request: a golden set is 50-500 items; more is an import gone wrong


class ItemError(ValueError):
    """A bad item or request; the message names the item's index and the field."""


@dataclass(frozen=True)
class DatasetItem:
    input: str | list[dict[str, str]]
    expected: str | None = None
    assertions: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    trace_id: str | None = None  # the span the item was taken from, if any
    span_id: str | None = None


def check_name(name: Any) -> str:
    """A dataset name: letters, digits, `.`, `_`, `-`, at most 128, so it is a URL path segment."""
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise ItemError(f"name {name!r} must be 1-128 letters, digits, '.', '_' or '-', starting with a "
                        "letter or digit")
    return name


def parse_items(body: Any) -> list[DatasetItem]:
    """Every item of a request, or an ItemError for the first bad one (so nothing is stored)."""
    if not isinstance(body, list) or not body:
        raise ItemError("the body must be a non-empty JSON list of items")
    if len(body) > MAX_ITEMS:
        raise ItemError(f"at most {MAX_ITEMS} items per request, got {len(body)}")
    return [parse_item(raw, index) for index, raw in enumerate(body)]


def parse_item(raw: Any, index: int) -> DatasetItem:
    if not isinstance(raw, dict):
        raise ItemError(f"item {index}: must be a JSON object, got {type(raw).__name__}")
    unknown = sorted(set(raw) - set(ITEM_FIELDS))
    if unknown:  # a typo ("expeced") would otherwise drop the expected answer silently
        raise ItemError(f"item {index}: unknown field {unknown[0]!r}; an item has {', '.join(ITEM_FIELDS)}")
    return DatasetItem(input=_input(raw.get("input"), index), expected=_expected(raw.get("expected"), index),
                       assertions=_assertions(raw.get("assertions"), index),
                       metadata=_object(raw.get("metadata"), index, "metadata"))


def parse_changes(raw: Any, key: int) -> dict[str, Any]:
    """The fields an edit of item `key` sets, each checked as in a whole item; an edit names at
    least one, and `"expected": null` clears the expected answer."""
    if not isinstance(raw, dict) or not raw:
        raise ItemError(f"item {key}: the body must be a JSON object with some of {', '.join(ITEM_FIELDS)}")
    unknown = sorted(set(raw) - set(ITEM_FIELDS))
    if unknown:
        raise ItemError(f"item {key}: unknown field {unknown[0]!r}; an item has {', '.join(ITEM_FIELDS)}")
    return {name: _FIELD_CHECKS[name](value, key) for name, value in raw.items()}


def _input(value: Any, index: int) -> str | list[dict[str, str]]:
    if value is None or value == "" or value == []:
        raise ItemError(f"item {index}: input is required (a text or a list of {{role, content}} messages)")
    if isinstance(value, str):
        return value
    if not isinstance(value, list):
        raise ItemError(f"item {index}: input must be a text or a list of messages, got {type(value).__name__}")
    return [_message(message, index, n) for n, message in enumerate(value)]


def _message(value: Any, index: int, n: int) -> dict[str, str]:
    where = f"item {index}: input[{n}]"
    if not isinstance(value, dict) or set(value) != {"role", "content"}:
        raise ItemError(f"{where} must be an object with exactly role and content")
    if not isinstance(value["role"], str) or not value["role"]:
        raise ItemError(f"{where}.role must be a non-empty text")
    if not isinstance(value["content"], str):
        raise ItemError(f"{where}.content must be a text")
    return {"role": value["role"], "content": value["content"]}


def _expected(value: Any, index: int) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ItemError(f"item {index}: expected must be a text, got {type(value).__name__}")
    return value


def _object(value: Any, index: int, name: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ItemError(f"item {index}: {name} must be a JSON object, got {type(value).__name__}")
    return value


def _assertions(value: Any, index: int) -> dict[str, Any]:
    assertions = _object(value, index, "assertions")
    for kind, spec in assertions.items():
        if kind not in ASSERTION_KINDS:
            raise ItemError(f"item {index}: assertions.{kind} is not an assertion kind; the kinds are "
                            f"{', '.join(ASSERTION_KINDS)}")
        CHECKS[kind](spec, f"item {index}: assertions.{kind}")
    return assertions


def _texts(spec: Any, where: str) -> None:
    if not isinstance(spec, list) or not all(isinstance(text, str) and text for text in spec):
        raise ItemError(f"{where} must be a list of non-empty texts")


def _regex(spec: Any, where: str) -> None:
    if not isinstance(spec, str):
        raise ItemError(f"{where} must be a text (a regular expression)")
    try:
        re.compile(spec)
    except re.error as exc:
        raise ItemError(f"{where} is not a valid regular expression: {exc}") from None


def _flag(spec: Any, where: str) -> None:
    if spec is not True:
        raise ItemError(f"{where} must be true (the answer must parse as JSON)")


def _json_schema(spec: Any, where: str) -> None:
    if not isinstance(spec, dict):
        raise ItemError(f"{where} must be a JSON Schema object")
    try:
        Draft202012Validator.check_schema(spec)
    except SchemaError as exc:
        raise ItemError(f"{where} is not a valid JSON Schema (draft 2020-12): {exc.message}") from None


_FIELD_CHECKS = {"input": _input, "expected": _expected, "assertions": _assertions,
                 "metadata": lambda value, index: _object(value, index, "metadata")}
CHECKS = {"must_contain": _texts, "must_not_contain": _texts, "regex": _regex, "valid_json": _flag,
          "json_schema": _json_schema}
