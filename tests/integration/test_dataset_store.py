"""Golden datasets in the metadata DB (schemas.metadata.datasets) on SQLite and PostgreSQL:
versions stay readable, adding is all or nothing, names are unique per project."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from schemas.dataset_items import DatasetItem
from schemas.metadata.datasets import DatasetExists, DatasetNotFound, DatasetStore
from schemas.metadata.store import Metadata


def inputs(answer: dict) -> list:
    return [item["input"] for item in answer["items"]]


def test_each_add_is_a_version_and_old_versions_keep_their_items(metadata: Metadata) -> None:
    datasets = DatasetStore(metadata)
    assert datasets.create("default", "golden", "refund questions")["version"] == 0
    assert datasets.add_items("default", "golden", [DatasetItem("q1"), DatasetItem("q2")])[0] == 1
    version, (item_id,) = datasets.add_items("default", "golden", [DatasetItem(
        [{"role": "user", "content": "q3"}], expected="a3", trace_id="ab" * 16, span_id="cd" * 8)])
    assert version == 2
    assert inputs(datasets.read("default", "golden", 1)) == ["q1", "q2"]
    latest = datasets.read("default", "golden")
    assert latest["version"] == 2 and inputs(latest) == ["q1", "q2", [{"role": "user", "content": "q3"}]]
    assert latest["items"][2]["id"] == item_id and latest["items"][2]["expected"] == "a3"
    assert latest["items"][2]["source"] == {"trace_id": "ab" * 16, "span_id": "cd" * 8}
    assert datasets.read("default", "golden", 0)["items"] == []
    (listed,) = datasets.list_datasets("default")
    assert (listed["name"], listed["description"], listed["version"], listed["items"]) == \
        ("golden", "refund questions", 2, 3)


def test_a_failed_add_stores_no_item_and_no_version(metadata: Metadata) -> None:
    datasets = DatasetStore(metadata)
    datasets.create("default", "golden")
    unstorable = DatasetItem("q", metadata={"when": object()})  # fails after the version bump, before commit
    with pytest.raises(TypeError):
        datasets.add_items("default", "golden", [DatasetItem("fine"), unstorable])
    answer = datasets.read("default", "golden")
    assert answer["version"] == 0 and answer["items"] == []
    assert datasets.add_items("default", "golden", [DatasetItem("fine")])[0] == 1


def test_names_are_unique_per_project_and_unknown_ones_are_not_found(metadata: Metadata) -> None:
    datasets = DatasetStore(metadata)
    metadata.ensure_project("other")
    datasets.create("default", "golden")
    with pytest.raises(DatasetExists, match="'golden' already exists"):
        datasets.create("default", "golden")
    datasets.create("other", "golden")  # another project's namespace
    datasets.add_items("other", "golden", [DatasetItem("elsewhere")])
    assert datasets.read("default", "golden")["items"] == []
    with pytest.raises(DatasetNotFound, match="'nope' not found"):
        datasets.read("default", "nope")
    with pytest.raises(DatasetNotFound, match="versions 0 to 0, not 3"):
        datasets.read("default", "golden", 3)
    with pytest.raises(DatasetNotFound):
        datasets.add_items("default", "nope", [DatasetItem("q")])


def test_concurrent_adds_get_distinct_versions(metadata: Metadata) -> None:
    datasets = DatasetStore(metadata)
    datasets.create("default", "golden")
    with ThreadPoolExecutor(max_workers=6) as pool:
        versions = list(pool.map(lambda n: datasets.add_items("default", "golden", [DatasetItem(f"q{n}")])[0],
                                 range(6)))
    assert sorted(versions) == [1, 2, 3, 4, 5, 6]
    for version in versions:  # each version holds exactly the items added up to it
        assert len(datasets.read("default", "golden", version)["items"]) == version
