"""Write `trace.proto`: the OTLP trace messages as one self-contained proto file.

ClickHouse reads OTLP bodies itself (FORMAT Protobuf) and takes its schema as one text
(`format_schema_source='string'`), so the messages of opentelemetry-proto's four trace files
are rendered here, from the installed descriptors, into a single file with one package.
`IngestRequest` is ExportTraceServiceRequest plus the project id the collector appends to
each body (an appended field is valid protobuf: the body is not re-encoded).

Run `python -m schemas.otlp.generate` after upgrading opentelemetry-proto; the file is committed.
"""

from __future__ import annotations

from pathlib import Path

from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

PACKAGE = "llmpulse.otlp"
PROJECT_FIELD = "llmpulse_project_id"
PROJECT_FIELD_NUMBER = 100
INGEST_MESSAGE = "IngestRequest"
OUTPUT = Path(__file__).with_name("trace.proto")
_MODULES = (common_pb2, resource_pb2, trace_pb2, trace_service_pb2)
_SCALARS = {
    FieldDescriptor.TYPE_DOUBLE: "double", FieldDescriptor.TYPE_FLOAT: "float",
    FieldDescriptor.TYPE_INT64: "int64", FieldDescriptor.TYPE_UINT64: "uint64",
    FieldDescriptor.TYPE_INT32: "int32", FieldDescriptor.TYPE_FIXED64: "fixed64",
    FieldDescriptor.TYPE_FIXED32: "fixed32", FieldDescriptor.TYPE_BOOL: "bool",
    FieldDescriptor.TYPE_STRING: "string", FieldDescriptor.TYPE_BYTES: "bytes",
    FieldDescriptor.TYPE_UINT32: "uint32", FieldDescriptor.TYPE_SFIXED32: "sfixed32",
    FieldDescriptor.TYPE_SFIXED64: "sfixed64", FieldDescriptor.TYPE_SINT32: "sint32",
    FieldDescriptor.TYPE_SINT64: "sint64",
}


def render_proto() -> str:
    """The whole file: every message and enum of the trace protos, type names made local."""
    lines = ['syntax = "proto3";', f"package {PACKAGE};", ""]
    for module in _MODULES:
        for enum in module.DESCRIPTOR.enum_types_by_name.values():
            lines += _render_enum(enum, "")
        for message in module.DESCRIPTOR.message_types_by_name.values():
            lines += _render_message(message, "")
    lines += _render_ingest_message()
    return "\n".join(lines) + "\n"


def _render_ingest_message() -> list[str]:
    request = trace_service_pb2.ExportTraceServiceRequest.DESCRIPTOR
    lines = [f"message {INGEST_MESSAGE} {{"]
    lines += [f"  {_field_line(field)}" for field in request.fields]
    lines += [f"  string {PROJECT_FIELD} = {PROJECT_FIELD_NUMBER};", "}"]
    return lines


def _render_enum(enum: EnumDescriptor, indent: str) -> list[str]:
    values = [f"{indent}  {value.name} = {value.number};" for value in enum.values]
    return [f"{indent}enum {enum.name} {{", *values, f"{indent}}}"]


def _render_message(message: Descriptor, indent: str) -> list[str]:
    lines = [f"{indent}message {message.name} {{"]
    for nested in message.nested_types:
        lines += _render_message(nested, indent + "  ")
    for enum in message.enum_types:
        lines += _render_enum(enum, indent + "  ")
    done: set[str] = set()
    for field in message.fields:
        oneof = field.containing_oneof
        if oneof is None or oneof.name.startswith("_"):  # proto3 `optional` is a synthetic oneof
            lines.append(f"{indent}  {_field_line(field)}")
        elif oneof.name not in done:
            done.add(oneof.name)
            members = [f"{indent}    {_field_line(member)}" for member in oneof.fields]
            lines += [f"{indent}  oneof {oneof.name} {{", *members, f"{indent}  }}"]
    return [*lines, f"{indent}}}"]


def _field_line(field: FieldDescriptor) -> str:
    label = "repeated " if field.is_repeated else ""
    return f"{label}{_type_name(field)} {field.name} = {field.number};"


def _type_name(field: FieldDescriptor) -> str:
    if field.type not in (FieldDescriptor.TYPE_MESSAGE, FieldDescriptor.TYPE_ENUM):
        return _SCALARS[field.type]
    target = field.message_type or field.enum_type
    return target.full_name.removeprefix(target.file.package + ".")


def main() -> None:
    OUTPUT.write_text(render_proto())
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main()
