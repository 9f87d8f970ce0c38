"""The one place that talks to ClickHouse: connection, migrations, inserts, health.

All access goes through clickhouse-connect; the DSN decides whether that is embedded chDB
(`chdb:///dir`) or a server (`http(s)://…`). Read queries live in `schemas.clickhouse.queries`.
"""

from __future__ import annotations

import copy
import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any
from urllib.parse import unquote, urlsplit

import clickhouse_connect
import pyarrow as pa
from clickhouse_connect.driver.client import Client

log = logging.getLogger(__name__)

_MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS {db}.schema_migrations
(version UInt32, name String, applied_at DateTime DEFAULT now())
ENGINE = ReplacingMergeTree ORDER BY version
"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


# Embedded chDB: the caches ClickHouse sizes for a dedicated server (5 GiB each by default).
_CHDB_CACHES = ("mark_cache_size", "primary_index_cache_size", "index_mark_cache_size")
_CHDB_MALLOC_ENV = "JE_MALLOC_CONF"  # the variable chDB's (prefixed) jemalloc reads its options from
# Vertical merges read one column at a time: a horizontal merge of small parts of our ~50-column
# tables held ~300 MB in chDB, a vertical one under 100 MB.
_EMBEDDED_MERGE_SETTINGS = (
    "vertical_merge_algorithm_min_rows_to_activate = 1, "
    "vertical_merge_algorithm_min_columns_to_activate = 1, "
    "vertical_merge_algorithm_min_bytes_to_activate = 0"
)

# Embedded chDB shares the service's memory, and a read's GROUP BY grows with its range: the
# summary collapses twins over every call (~260 bytes a call with the hashed call identity of
# schemas.clickhouse.queries). Past these sizes a GROUP BY or ORDER BY goes on in temporary files: results
# are the same, and memory stops growing with the range (summary of 600k calls: +121 MB, 1.3 s).
READ_SPILL_BYTES = 128 * 2**20
EMBEDDED_READ_SETTINGS = {
    "max_bytes_before_external_group_by": READ_SPILL_BYTES,
    "max_bytes_before_external_sort": READ_SPILL_BYTES,
}
# Scheduled work (detectors) in embedded mode: one thread a query. The other core stays with
# ingest, and the metrics refresh of 600k calls took +84 MB in 6.5 s, against +190 MB in 11 s
# with two threads contending for the same cores.
EMBEDDED_BACKGROUND_SETTINGS = {"max_threads": 1}


def connect(dsn: str, chdb_cache_mb: int | None = None, chdb_malloc_conf: str = "") -> Client:
    """A client for `dsn`; chDB's backend is shared by every thread of this process.

    `chdb_cache_mb` caps chDB's caches; it takes effect when this client starts the engine.
    `chdb_malloc_conf` is read by chDB's jemalloc when the library loads, so only by the first
    chDB client of a process.
    """
    if not dsn.startswith("chdb:"):
        return clickhouse_connect.get_client(dsn=dsn)
    if chdb_malloc_conf:
        os.environ[_CHDB_MALLOC_ENV] = chdb_malloc_conf
    options = {name: chdb_cache_mb * 2**20 for name in _CHDB_CACHES} if chdb_cache_mb else None
    path = chdb_path(dsn)
    if path is None:
        return clickhouse_connect.get_client(dsn=dsn, chdb_options=options)
    return clickhouse_connect.get_client(interface="chdb", path=path, chdb_options=options)


def chdb_path(dsn: str) -> str | None:
    """The directory of a `chdb:///abs/path` DSN, percent-decoded (clickhouse-connect takes the raw
    URL path, so a directory with `%`, `#` or `?` in its name could not be named); None for other forms."""
    parts = urlsplit(dsn)
    if parts.fragment:
        raise ValueError(f"ClickHouse DSN {dsn!r}: a '#' ends a URL's path; write it as %23")
    if parts.netloc or parts.query or not parts.path:
        return None
    path = unquote(parts.path)
    if "?" in path:
        raise ValueError(f"chDB cannot open {path!r}: it reads what follows a '?' as options")
    return path


def load_migrations() -> list[Migration]:
    """Numbered SQL files shipped in schemas/clickhouse/migrations; never edited once shipped."""
    found = []
    for entry in resources.files("schemas.clickhouse.migrations").iterdir():
        if entry.name.endswith(".sql"):
            version = int(entry.name.split("_", 1)[0])
            found.append(Migration(version, entry.name, entry.read_text()))
    return sorted(found, key=lambda m: m.version)


class Store:
    """ClickHouse tables of one llmpulse database."""

    def __init__(self, client: Client, database: str = "llmpulse", *, embedded: bool = False) -> None:
        self.client = client
        self.database = database
        self.embedded = embedded
        self.is_background = False
        self._lock = threading.Lock()
        self._schemas: dict[tuple[str, tuple[str, ...]], pa.Schema] = {}

    def table(self, name: str) -> str:
        return f"{self.database}.{name}"

    def migrate(self) -> list[str]:
        """Apply pending migrations in order; safe to run at every start-up and concurrently."""
        with self._lock:
            self.client.command(f"CREATE DATABASE IF NOT EXISTS {self.database}")
            self.client.command(_MIGRATIONS_TABLE.format(db=self.database))
            done = self._applied_versions()
            applied = []
            for migration in load_migrations():
                if migration.version not in done:
                    self._apply(migration)
                    applied.append(migration.name)
            if self.embedded:
                self._tune_embedded_merges()
            return applied

    def _tune_embedded_merges(self) -> None:
        rows = self.client.query(
            "SELECT name FROM system.tables WHERE database = {db:String} AND engine LIKE '%MergeTree'",
            parameters={"db": self.database},
        ).result_rows
        for (name,) in rows:
            self.client.command(f"ALTER TABLE {self.table(name)} MODIFY SETTING {_EMBEDDED_MERGE_SETTINGS}")

    def release_memory(self) -> None:
        """Embedded chDB: hand the pages its jemalloc keeps after inserts and merges back to the OS."""
        if self.embedded:
            self.client.command("SYSTEM JEMALLOC PURGE")

    def _applied_versions(self) -> set[int]:
        rows = self.client.query(f"SELECT version FROM {self.database}.schema_migrations").result_rows
        return {int(r[0]) for r in rows}

    def _apply(self, migration: Migration) -> None:
        for statement in _split_statements(migration.sql.format(db=self.database)):
            self.client.command(statement)
        self.client.insert(
            self.table("schema_migrations"), [[migration.version, migration.name]],
            column_names=["version", "name"],
        )
        log.info("applied ClickHouse migration %s", migration.name)

    def insert_columns(self, table: str, column_names: Sequence[str], columns: Sequence[list[Any]]) -> None:
        """Column-oriented insert: one list per column, all of the same length.

        Goes through Arrow: pyarrow builds the columns in C, where clickhouse-connect's Native
        encoder would walk every value in Python (about half the cost per span).
        """
        self.insert_arrow(table, self.arrow_table(table, column_names, columns))

    def arrow_table(self, table: str, column_names: Sequence[str], columns: Sequence[list[Any]]) -> pa.Table:
        """The columns as an Arrow table typed as `table`'s ClickHouse columns are."""
        schema = self._arrow_schema(table, tuple(column_names))
        arrays = [pa.array(values, type=schema.field(i).type) for i, values in enumerate(columns)]
        return pa.Table.from_arrays(arrays, schema=schema)

    def insert_arrow(self, table: str, data: pa.Table) -> None:
        """`optimize_on_insert = 0`: ClickHouse would otherwise run each block through its
        Replacing merge as it is written, a third of the engine's cost of a span row, to collapse
        copies inside that block only. Every reader collapses copies itself (FINAL, or grouping by
        call key), because a redelivery usually lands in another block anyway.
        """
        self.client.insert_arrow(
            self.table(table), data,
            settings={"log_comment": f"llmpulse:insert:{table}", "optimize_on_insert": 0},
        )

    def _arrow_schema(self, table: str, column_names: tuple[str, ...]) -> pa.Schema:
        key = (table, column_names)
        if key not in self._schemas:
            rows = self.client.query(
                "SELECT name, type FROM system.columns WHERE database = {db:String} AND table = {t:String}",
                parameters={"db": self.database, "t": table},
            ).result_rows
            types = dict(rows)
            self._schemas[key] = pa.schema([(name, arrow_type(types[name])) for name in column_names])
        return self._schemas[key]

    def ping(self) -> bool:
        try:
            return self.client.command("SELECT 1") == 1
        except Exception:  # readiness must answer, not raise
            log.exception("ClickHouse ping failed")
            return False

    def query(self, sql: str, parameters: dict[str, Any], tag: str) -> list[tuple]:
        """Every read binds its values server-side and carries a log_comment tag."""
        result = self.client.query(sql.replace("{db}", self.database), parameters=parameters,
                                   settings=self._read_settings(tag))
        return result.result_rows

    def query_dicts(self, sql: str, parameters: dict[str, Any], tag: str) -> list[dict[str, Any]]:
        result = self.client.query(sql.replace("{db}", self.database), parameters=parameters,
                                   settings=self._read_settings(tag))
        return list(result.named_results())

    def background(self) -> Store:
        """These tables for scheduled work, whose reads in embedded mode yield to ingest and the UI."""
        view = copy.copy(self)
        view.is_background = True
        return view

    def _read_settings(self, tag: str) -> dict[str, Any]:
        settings: dict[str, Any] = {"log_comment": f"llmpulse:{tag}"}
        if not self.embedded:
            return settings
        background = EMBEDDED_BACKGROUND_SETTINGS if self.is_background else {}
        return {**settings, **EMBEDDED_READ_SETTINGS, **background}


_ARROW_SCALARS = {
    "String": pa.string(), "UInt64": pa.uint64(), "UInt32": pa.uint32(), "Float64": pa.float64(),
    "Bool": pa.bool_(),
}


def arrow_type(ch_type: str) -> pa.DataType:
    """The Arrow type for one of the ClickHouse column types our migrations use."""
    for wrapper in ("LowCardinality(", "Nullable("):
        if ch_type.startswith(wrapper):
            return arrow_type(ch_type[len(wrapper):-1])
    if ch_type in _ARROW_SCALARS:
        return _ARROW_SCALARS[ch_type]
    if ch_type.startswith("DateTime64(9"):
        return pa.timestamp("ns", tz="UTC")
    if ch_type.startswith("DateTime64"):
        return pa.timestamp("us", tz="UTC")
    if ch_type.startswith("Decimal("):
        precision, scale = (int(x) for x in ch_type[8:-1].split(","))
        return pa.decimal128(precision, scale)
    if ch_type.startswith("Array("):
        return pa.list_(arrow_type(ch_type[6:-1]))
    if ch_type.startswith("Map("):
        key, value = ch_type[4:-1].split(", ", 1)
        return pa.map_(arrow_type(key), arrow_type(value))
    raise ValueError(f"no Arrow type for ClickHouse type {ch_type}")


def _split_statements(sql: str) -> list[str]:
    lines = [line for line in sql.splitlines() if not line.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
