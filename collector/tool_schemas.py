"""The parameter schemas of the tools a call offered, by tool name: what a tool call's arguments
must fit. Read only for a call that answered with a tool call.

OTel GenAI (≥1.37) and OpenLLMetry list the tools in `gen_ai.tool.definitions`
([{"type": "function", "name", "parameters"}]); OpenInference flattens each into
`llm.tools.{i}.tool.json_schema` (OpenAI's {"type": "function", "function": {"name", "parameters"}});
the Vercel AI SDK sends `ai.prompt.tools`, a list of JSON texts ({"name", "inputSchema"} since v5,
{"name", "parameters"} before); older OpenLLMetry `llm.request.functions.{i}.name` / `.parameters`.
"""

from __future__ import annotations

from typing import Any

import orjson

from collector.reader import Reader
from schemas import signal_sources as ss

_SCHEMA_KEYS = ("parameters", "inputSchema", "input_schema")


def tool_schemas(reader: Reader) -> dict[str, dict[str, Any]]:
    """Tool name → its parameters' JSON Schema, from whichever carrier the span has."""
    found: dict[str, dict[str, Any]] = {}
    for definition in _definitions(reader):
        named = _named_schema(definition)
        if named is not None:
            found.setdefault(*named)
    return found


def _definitions(reader: Reader) -> list[Any]:
    attrs, definitions = reader.attrs, []
    for key in (ss.TOOL_DEFINITIONS, ss.VERCEL_TOOLS):
        if key in attrs:
            listed = reader.blob(key)
            definitions += [_structured(item) for item in listed] if isinstance(listed, list) else []
    functions: dict[str, dict[str, Any]] = {}
    for key, value in attrs.items():
        if not isinstance(key, str):
            continue
        if key.startswith(ss.OPENINFERENCE_TOOLS) and key.endswith(ss.OPENINFERENCE_TOOL_SCHEMA):
            definitions.append(_structured(value))
        elif key.startswith(ss.OPENLLMETRY_FUNCTIONS):
            index, _, field = key[len(ss.OPENLLMETRY_FUNCTIONS):].partition(".")
            functions.setdefault(index, {})[field] = value
    return definitions + [{"name": f.get("name"), "parameters": _structured(f.get("parameters"))}
                          for f in functions.values()]


def _named_schema(definition: Any) -> tuple[str, dict[str, Any]] | None:
    if not isinstance(definition, dict):
        return None
    function = definition.get("function")
    node = function if isinstance(function, dict) else definition
    name = node.get("name")
    schema = next((_structured(node[key]) for key in _SCHEMA_KEYS if node.get(key) is not None), None)
    if isinstance(schema, dict) and isinstance(schema.get("jsonSchema"), dict):  # an AI SDK jsonSchema() wrapper
        schema = schema["jsonSchema"]
    return (name, schema) if isinstance(name, str) and isinstance(schema, dict) else None


def _structured(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
