"""Structured output: did a call ask for JSON, and does its answer hold it?

Where each convention says a call asked for JSON is data (`schemas.signal_sources`). Asking costs
a few dict lookups per LLM span; a JSON parameters attribute is parsed only when its text names a
format, and an answer only when JSON was asked for, so the ingest hot path pays nothing more for
the calls that asked for none. A schema is checked with `jsonschema` (draft 2020-12, as the
datasets' json_schema assertion), one validator per distinct schema, kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from collector.reader import Reader
from schemas import signal_sources as ss

_MAX_REASON = 300
_SCHEMA_TYPES = frozenset({"object", "array"})
_INVALID = object()


@dataclass(frozen=True, slots=True)
class JsonRequest:
    """A call's request for JSON; `schema` is the JSON Schema its answer must fit (None: any JSON)."""

    schema: dict[str, Any] | None


def json_request(reader: Reader, name: str) -> JsonRequest | None:
    """What the span says about a JSON answer, or None when it asked for none (`collector.signals`
    asks only for a span with one of the attributes that can say so)."""
    attrs, requested, schema = reader.attrs, False, None
    output_type = attrs.get(ss.OUTPUT_TYPE)
    if isinstance(output_type, str) and output_type.strip().lower() in ss.JSON_OUTPUT_TYPES:
        requested = True
    for key in ss.FORMAT_KEYS:
        if key in attrs:
            asked, found = response_format(attrs[key])
            requested, schema = requested or asked, schema or found
    for key in ss.PARAMETER_KEYS:
        if key in attrs and _may_name_format(attrs[key]):
            asked, found = request_parameters(reader.blob(key))
            requested, schema = requested or asked, schema or found
    if not requested:
        requested = _vercel_object(attrs, name)
    return JsonRequest(schema) if requested else None


def _may_name_format(raw: Any) -> bool:
    """Parameters as text are parsed only when they mention a format: most never do."""
    return not isinstance(raw, str) or any(hint in raw for hint in ss.PARAMETER_HINTS)


def _vercel_object(attrs: dict[str, Any], name: str) -> bool:
    operation = attrs.get(ss.VERCEL_OPERATION_ID)
    operation = operation if isinstance(operation, str) else name
    return operation.startswith("ai.") and operation.lower() in ss.VERCEL_OBJECT_OPERATIONS


def response_format(value: Any, depth: int = 0) -> tuple[bool, dict[str, Any] | None]:
    """(asks for JSON, its schema) of one response-format value: a name ("json_object"), a format
    object ({"type": "json_schema", "json_schema": {"schema": …}}, the Responses API's and
    Anthropic's {"type": "json_schema", "schema": …}), a bare schema, or any of them as JSON text."""
    if isinstance(value, str):
        text = value.strip()
        if text[:1] in ("{", '"') and depth < 2:
            parsed = _loads(text)
            return (False, None) if parsed is _INVALID else response_format(parsed, depth + 1)
        return text.lower() in ss.JSON_FORMAT_NAMES, None
    if not isinstance(value, dict):
        return False, None
    kind = value.get("type")
    kind = kind.lower() if isinstance(kind, str) else ""
    if kind == "json_schema":
        inner = value.get("json_schema")
        schema = inner.get("schema") if isinstance(inner, dict) else value.get("schema")
        return True, schema if isinstance(schema, dict) else None
    if kind in ss.JSON_FORMAT_NAMES:
        return True, None
    if kind in _SCHEMA_TYPES or "properties" in value or "$schema" in value:
        return True, value
    return False, None


def request_parameters(params: Any, depth: int = 0) -> tuple[bool, dict[str, Any] | None]:
    """(asks for JSON, its schema) of a request's parameters (OpenInference, Langfuse)."""
    if not isinstance(params, dict):
        return False, None
    for key in ss.FORMAT_PARAMETERS:
        if key in params and (found := response_format(params[key]))[0]:
            return found
    for outer, inner in ss.NESTED_FORMAT:
        node = params.get(outer)
        if isinstance(node, dict) and inner in node and (found := response_format(node[inner]))[0]:
            return found
    if _first_text(params, ss.MIME_TYPE_PARAMETERS).lower() == "application/json":  # Gemini
        return True, next((s for k in ss.SCHEMA_PARAMETERS if isinstance(s := params.get(k), dict)), None)
    if depth == 0:
        for key in ss.CONFIG_PARAMETERS:
            if (found := request_parameters(params.get(key), 1))[0]:
                return found
    return False, None


def _first_text(params: dict[str, Any], keys: tuple[str, ...]) -> str:
    return next((value for key in keys if isinstance(value := params.get(key), str)), "")


def answer_problem(text: str, schema: dict[str, Any] | None) -> str:
    """Why `text` fails a JSON request ('' when it holds): not JSON, or where it breaks `schema`."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        return _clip(f"not valid JSON: {exc}")
    return schema_problem(value, schema) if schema is not None else ""


def schema_problem(value: Any, schema: dict[str, Any]) -> str:
    """Where `value` breaks `schema` (''); a schema jsonschema cannot use judges nothing."""
    validator = _validator(_schema_key(schema))
    if validator is None:
        return ""
    try:
        problem = best_match(validator.iter_errors(value))
    except Exception:  # an unknown type or an unresolvable $ref in the app's schema: not the answer's fault
        return ""
    if problem is None:
        return ""
    where = "/".join(str(step) for step in problem.absolute_path) or "the top level"
    return _clip(f"breaks the schema at {where}: {problem.message}")


def _schema_key(schema: dict[str, Any]) -> bytes:
    try:
        return orjson.dumps(schema, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return b"null"


@lru_cache(maxsize=512)
def _validator(key: bytes) -> Draft202012Validator | None:
    """One validator per distinct schema (an app sends the same few): None for a schema that is no
    JSON Schema, so such a request is checked for JSON alone."""
    schema = _loads(key.decode())
    if not isinstance(schema, dict):
        return None
    try:
        Draft202012Validator.check_schema(schema)
    except Exception:
        return None
    return Draft202012Validator(schema)


def _loads(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return _INVALID


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_REASON else text[:_MAX_REASON - 1] + "…"
