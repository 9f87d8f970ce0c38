"""Metadata access for golden datasets: create, list, read a version, add, edit and remove items
(each change a new version), delete a dataset.

Items arrive already checked (`schemas.dataset_items`); storing them is this module's job. Each
change is one transaction that starts with the version bump, an UPDATE ... SET version = version
+ 1: two concurrent changes get two versions, and the row lock the bump takes orders changes of
one dataset, so an edit reads the item as the change before it left it.

A deleted dataset is only marked deleted, and renamed out of the way (`~<id>~<name>`, which no
dataset name can be) so its name can be taken again; experiments keep its id and a copy of
its name, so they stay readable.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from schemas.dataset_items import DatasetItem
from schemas.metadata.dataset_tables import DatasetItemRow, DatasetRow, item_key_of
from schemas.metadata.store import Metadata


class DatasetExists(Exception):
    """A dataset of that name is already in the project."""


class DatasetNotFound(LookupError):
    """No such dataset, or no such version of it; the message says which."""


class ItemNotFound(DatasetNotFound):
    """The dataset has no such item in its current version."""


ITEM_CHANGES = ("input", "expected", "assertions", "metadata")  # what an edit may change


class DatasetStore:
    def __init__(self, metadata: Metadata) -> None:
        self.metadata = metadata

    def create(self, project: str, name: str, description: str = "") -> dict[str, Any]:
        row = DatasetRow(project_id=self.metadata.require_project(project).id, name=name, description=description)
        with self.metadata.session() as db:
            db.add(row)
            try:
                db.commit()
            except IntegrityError:  # the unique (project, name): also a concurrent create
                raise DatasetExists(f"dataset {name!r} already exists in project {project!r}") from None
            return _summary(db, row)

    def list_datasets(self, project: str) -> list[dict[str, Any]]:
        with self.metadata.session() as db:
            rows = db.scalars(select(DatasetRow).where(DatasetRow.project_id == self._project_id(project),
                                                       DatasetRow.deleted.is_(False)).order_by(DatasetRow.name))
            return [_summary(db, row) for row in rows]

    def read(self, project: str, name: str, version: int | None = None) -> dict[str, Any]:
        """`{"name", "version", "items"}` of `version` (the current one when None), items in insertion order."""
        with self.metadata.session() as db:
            row = self._find(db, project, name)
            wanted = row.version if version is None else version
            if not 0 <= wanted <= row.version:
                raise DatasetNotFound(f"dataset {name!r} has versions 0 to {row.version}, not {wanted}")
            items = db.scalars(_in_version(select(DatasetItemRow), row.id, wanted).order_by(item_key_of()))
            return {"name": row.name, "description": row.description, "version": wanted,
                    "items": [item_json(item) for item in items]}

    def add_items(self, project: str, name: str, items: list[DatasetItem]) -> tuple[int, list[int]]:
        """Store `items` as the dataset's next version; returns (version, item ids). All or nothing."""
        with self.metadata.session() as db:
            dataset_id, version = self._bump(db, project, name)
            rows = [_item_row(dataset_id, version, item) for item in items]
            db.add_all(rows)
            db.commit()
            return version, [row.id for row in rows]

    def edit_item(self, project: str, name: str, key: int, changes: dict[str, Any]) -> int:
        """Replace the item `key` by a copy with `changes` (fields of ITEM_CHANGES, already checked;
        "expected" may be None to clear it) in the next version; returns that version."""
        with self.metadata.session() as db:
            dataset_id, version = self._bump(db, project, name)
            old = self._current_item(db, dataset_id, key, name)
            old.removed_in_version = version
            db.add(_edited_row(old, version, changes))
            db.commit()
            return version

    def remove_item(self, project: str, name: str, key: int) -> int:
        """Take the item `key` out of the next version (older versions keep it); returns that version."""
        with self.metadata.session() as db:
            dataset_id, version = self._bump(db, project, name)
            self._current_item(db, dataset_id, key, name).removed_in_version = version
            db.commit()
            return version

    def delete(self, project: str, name: str) -> None:
        """Mark the dataset deleted and free its name (see the module's docstring)."""
        with self.metadata.session() as db:
            row = self._find(db, project, name)
            row.deleted, row.name = True, f"~{row.id}~{row.name}"[:128]
            db.commit()

    def _bump(self, db: Session, project: str, name: str) -> tuple[int, int]:
        dataset_id = self._find(db, project, name).id
        version = db.execute(update(DatasetRow).where(DatasetRow.id == dataset_id)
                             .values(version=DatasetRow.version + 1).returning(DatasetRow.version)).scalar_one()
        return dataset_id, version

    def _current_item(self, db: Session, dataset_id: int, key: int, name: str) -> DatasetItemRow:
        row = db.scalar(select(DatasetItemRow).where(DatasetItemRow.dataset_id == dataset_id, item_key_of() == key,
                                                     DatasetItemRow.removed_in_version.is_(None)))
        if row is None:
            raise ItemNotFound(f"dataset {name!r} has no item {key} in its current version")
        return row

    def _project_id(self, project: str) -> int:
        return self.metadata.require_project(project).id

    def _find(self, db: Session, project: str, name: str) -> DatasetRow:
        row = live_dataset(db, self._project_id(project), name)
        if row is None:
            raise DatasetNotFound(f"dataset {name!r} not found in project {project!r}")
        return row


def live_dataset(db: Session, project_id: int, name: str) -> DatasetRow | None:
    """The dataset of that name in the project, unless deleted (a deleted one keeps its row)."""
    return db.scalar(select(DatasetRow).where(DatasetRow.project_id == project_id, DatasetRow.name == name,
                                              DatasetRow.deleted.is_(False)))


def _in_version(query: Any, dataset_id: int, version: int) -> Any:
    """The items of `version`: added at or before it and not removed by it (see dataset_tables)."""
    return query.where(DatasetItemRow.dataset_id == dataset_id, DatasetItemRow.added_in_version <= version,
                       or_(DatasetItemRow.removed_in_version.is_(None), DatasetItemRow.removed_in_version > version))


def _summary(db: Session, row: DatasetRow) -> dict[str, Any]:
    count = db.scalar(_in_version(select(func.count(DatasetItemRow.id)), row.id, row.version))
    return {"name": row.name, "description": row.description, "version": row.version, "items": count or 0,
            "created_at": row.created_at}


def _item_row(dataset_id: int, version: int, item: DatasetItem) -> DatasetItemRow:
    return DatasetItemRow(dataset_id=dataset_id, added_in_version=version, input=json.dumps(item.input),
                          expected=item.expected, assertions=json.dumps(item.assertions),
                          item_metadata=json.dumps(item.metadata), source_trace_id=item.trace_id,
                          source_span_id=item.span_id)


def _edited_row(old: DatasetItemRow, version: int, changes: dict[str, Any]) -> DatasetItemRow:
    """The next version of `old`: the same item (key, source span) with `changes` applied."""
    encoded = {"input": json.dumps(changes["input"]) if "input" in changes else old.input,
               "expected": changes.get("expected", old.expected),
               "assertions": json.dumps(changes["assertions"]) if "assertions" in changes else old.assertions,
               "item_metadata": json.dumps(changes["metadata"]) if "metadata" in changes else old.item_metadata}
    return DatasetItemRow(dataset_id=old.dataset_id, added_in_version=version, item_key=old.item_key or old.id,
                          source_trace_id=old.source_trace_id, source_span_id=old.source_span_id, **encoded)


def item_json(row: DatasetItemRow) -> dict[str, Any]:
    """An item as the API shows it: `id` is its key (the same across edits), `version_added` the
    version this content of it came in."""
    source = {"trace_id": row.source_trace_id, "span_id": row.source_span_id} if row.source_span_id else None
    created: datetime = row.created_at
    return {"id": row.item_key or row.id, "input": json.loads(row.input), "expected": row.expected,
            "assertions": json.loads(row.assertions), "metadata": json.loads(row.item_metadata),
            "source": source, "version_added": row.added_in_version, "created_at": created}
