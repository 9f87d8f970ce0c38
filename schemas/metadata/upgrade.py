"""Columns added to the metadata models after a release reach databases created before it.

`create_all` creates missing tables but never changes an existing one, so a column added to a
model would be missing from every deployed DB (SQLite and PostgreSQL alike) and the first query
naming it would fail. At each migrate, every column a model declares and its table lacks is
added with ALTER TABLE ADD COLUMN, which both engines support for a nullable column or one with
a server default; any other new column is refused with a message saying what to give it.
Idempotent, and safe when several processes migrate at once (a column another process added
meanwhile is fine).
"""

from __future__ import annotations

import logging

from sqlalchemy import Column, MetaData, Table, inspect
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.schema import CreateColumn

log = logging.getLogger(__name__)


def add_missing_columns(engine: Engine, metadata: MetaData) -> list[str]:
    """Add the columns the models declare and existing tables lack; returns them as table.column."""
    inspector = inspect(engine)
    added = []
    for table in metadata.sorted_tables:
        if not inspector.has_table(table.name):
            continue
        present = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name not in present:
                _add_column(engine, table, column)
                added.append(f"{table.name}.{column.name}")
    return added


def _add_column(engine: Engine, table: Table, column: Column) -> None:
    if not column.nullable and column.server_default is None:
        raise RuntimeError(f"the metadata column {table.name}.{column.name} cannot be added to an existing "
                           "database: make it nullable or give it a server_default")
    spec = CreateColumn(column).compile(dialect=engine.dialect)
    name = engine.dialect.identifier_preparer.format_table(table)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql(f"ALTER TABLE {name} ADD COLUMN {spec}")
    except DBAPIError:
        if column.name not in {c["name"] for c in inspect(engine).get_columns(table.name)}:
            raise
        return  # another process added it first
    log.info("added metadata column %s.%s", table.name, column.name)
