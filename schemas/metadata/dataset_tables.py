"""Metadata tables of golden datasets: a dataset and its versioned items.

Versioning by validity range: a dataset holds its current version number (0 when empty); each
change (adding items) raises it by one, and an item row carries `added_in_version` and
`removed_in_version` (None while the item is still in). Version v is the items with
added_in_version <= v and (removed_in_version is None or > v). So an old version stays readable
exactly as an experiment saw it, without copying items per version; removing or editing an item
later is closing its range (and, for an edit, adding the new item) in the next version.

An item keeps its identity across edits: `item_key` is the id of its first row (NULL on that
first row itself), and the API calls the item by that key. Experiment results are keyed by it,
so two experiments on different versions compare item by item even where an item was edited
between them; within one version a key names one row.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql import ColumnElement, func

from schemas.metadata.models import Base, UtcDateTime, utcnow


class DatasetRow(Base):
    __tablename__ = "datasets"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(default=0)  # the current version; 0: no items yet
    deleted: Mapped[bool] = mapped_column(default=False)  # kept for experiments that refer to it
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class DatasetItemRow(Base):
    __tablename__ = "dataset_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)
    added_in_version: Mapped[int] = mapped_column()
    removed_in_version: Mapped[int | None] = mapped_column(default=None)
    item_key: Mapped[int | None] = mapped_column(default=None)  # None: this row's id is the key
    input: Mapped[str] = mapped_column(Text)  # JSON: a text or a list of {role, content}
    expected: Mapped[str | None] = mapped_column(Text, default=None)
    assertions: Mapped[str] = mapped_column(Text, default="{}")  # JSON, checked by schemas.dataset_items
    item_metadata: Mapped[str] = mapped_column("metadata", Text, default="{}")  # JSON object
    source_trace_id: Mapped[str | None] = mapped_column(String(32), default=None)
    source_span_id: Mapped[str | None] = mapped_column(String(16), default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


def item_key_of() -> ColumnElement[int]:
    """The logical item a row is a version of (see the module's docstring)."""
    return func.coalesce(DatasetItemRow.item_key, DatasetItemRow.id)
