"""The SQL ingest path's ClickHouse objects: a Null input table and the view that normalizes.

They are derived objects, not migrations: both are generated (`schemas.sqlnormalize`) and
named with a hash of their definition, so a collector that starts with a changed definition
creates a new pair beside the old one and writes to it; a collector still running the old
code keeps writing to the old pair, whose view still works (`drop_stale_ingest_objects`
removes old pairs once no collector uses them). Bodies go in as they came: one project's
bodies concatenated (protobuf messages merge) with the project id appended as one more
protobuf field, length-delimited, one such row per project; the schema
travels with the insert (`format_schema_source='string'`), so a ClickHouse server needs no
schema file on its disk.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources

from clickhouse_connect.driver.client import Client

from schemas.otlp.generate import INGEST_MESSAGE, PROJECT_FIELD_NUMBER
from schemas.sqlnormalize import MAX_CHARS, input_columns, normalize_select

INPUT_PREFIX = "otlp_spans_in_"
VIEW_PREFIX = "otlp_spans_mv_"
_DDL_SETTINGS = {"max_query_size": 16 * 1024 * 1024, "max_ast_elements": 1_000_000,
                 "max_expanded_ast_elements": 1_000_000}


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


_PROJECT_TAG = _varint(PROJECT_FIELD_NUMBER << 3 | 2)  # field 100, length-delimited


@dataclass(frozen=True, slots=True)
class IngestObjects:
    """Names and DDL of one generation of the input table and its view."""

    database: str
    digest: str
    create_input: str
    create_view: str

    @property
    def input_table(self) -> str:
        return f"{self.database}.{INPUT_PREFIX}{self.digest}"

    @property
    def view(self) -> str:
        return f"{self.database}.{VIEW_PREFIX}{self.digest}"


def ingest_objects(database: str, max_chars: int = MAX_CHARS) -> IngestObjects:
    """The current generation's DDL; the digest covers the input columns and the SELECT."""
    columns, placeholder = input_columns(), "{input}"
    select = normalize_select(placeholder, max_chars)
    digest = hashlib.sha256(f"{columns}\n{select}".encode()).hexdigest()[:12]
    table, view = f"{database}.{INPUT_PREFIX}{digest}", f"{database}.{VIEW_PREFIX}{digest}"
    return IngestObjects(
        database, digest,
        f"CREATE TABLE IF NOT EXISTS {table} ({columns}) ENGINE = Null",
        f"CREATE MATERIALIZED VIEW IF NOT EXISTS {view} TO {database}.spans AS "
        + select.replace(placeholder, table),
    )


def ensure_ingest_objects(client: Client, database: str, max_chars: int = MAX_CHARS) -> IngestObjects:
    """Create this generation's input table and view if missing (after migrations: needs `spans`)."""
    objects = ingest_objects(database, max_chars)
    client.command(objects.create_input, settings=_DDL_SETTINGS)
    client.command(objects.create_view, settings=_DDL_SETTINGS)
    return objects


def drop_stale_ingest_objects(client: Client, objects: IngestObjects) -> list[str]:
    """Drop older generations (views first, so nothing is written to a table without its view).
    Only for when no collector of an older version is still running."""
    rows = client.query(
        "SELECT name FROM system.tables WHERE database = {db:String} AND (startsWith(name, {i:String}) "
        "OR startsWith(name, {v:String})) ORDER BY startsWith(name, {i:String})",
        parameters={"db": objects.database, "i": INPUT_PREFIX, "v": VIEW_PREFIX},
    ).result_rows
    stale = [name for (name,) in rows if not name.endswith(objects.digest)]
    for name in stale:
        client.command(f"DROP TABLE IF EXISTS {objects.database}.{name}")
    return stale


def frame_bodies(project_id: str, bodies: Iterable[bytes]) -> bytes:
    """One project's decompressed ExportTraceServiceRequest bodies as one length-delimited
    IngestRequest. Concatenated protobuf messages merge (their resource_spans add up), and
    ClickHouse runs the view once per input row, so one row per project keeps it to one run."""
    project = project_id.encode()
    message = b"".join((*bodies, _PROJECT_TAG, _varint(len(project)), project))
    return _varint(len(message)) + message


def insert_bodies(client: Client, objects: IngestObjects, bodies: Iterable[tuple[str, bytes]]) -> None:
    """Insert (project id, protobuf body) pairs in one INSERT; the view writes the `spans` rows."""
    by_project: dict[str, list[bytes]] = {}
    for project_id, body in bodies:
        by_project.setdefault(project_id, []).append(body)
    block = b"".join(frame_bodies(project_id, group) for project_id, group in by_project.items())
    client.raw_insert(objects.input_table, None, block, settings=insert_settings(), fmt="Protobuf")


@cache
def insert_settings() -> dict[str, str | int]:
    return {
        "format_schema_source": "string", "format_schema": proto_text(),
        "format_schema_message_name": INGEST_MESSAGE,
        "input_format_protobuf_oneof_presence": 1, "log_comment": "llmpulse:insert:otlp_spans",
    }


@cache
def proto_text() -> str:
    return resources.files("schemas.otlp").joinpath("trace.proto").read_text()
