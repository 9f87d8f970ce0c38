"""Golden datasets in the metadata DB (schemas.metadata.datasets) on SQLite and PostgreSQL:
versions stay readable, adding is all or nothing, names are unique per project, an edited item
keeps its id, removing and deleting leave older versions and experiments readable."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from schemas.dataset_items import DatasetItem
from schemas.metadata.datasets import DatasetExists, DatasetNotFound, DatasetStore, ItemNotFound
from schemas.metadata.experiments import ExperimentStore, NewExperiment
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


def expected_by_id(answer: dict) -> dict:
    return {item["id"]: item["expected"] for item in answer["items"]}


def test_an_edit_is_a_new_version_that_keeps_the_item_its_id_and_its_place(metadata: Metadata) -> None:
    datasets = DatasetStore(metadata)
    datasets.create("default", "golden")
    _, (first, second) = datasets.add_items("default", "golden", [
        DatasetItem("q1", trace_id="ab" * 16, span_id="cd" * 8), DatasetItem("q2", expected="a2")])
    assert datasets.edit_item("default", "golden", first, {"expected": "a1", "metadata": {"by": "ann"}}) == 2
    assert datasets.edit_item("default", "golden", first, {"input": "q1, reworded"}) == 3
    v1, v2, v3 = (datasets.read("default", "golden", v) for v in (1, 2, 3))
    assert expected_by_id(v1) == {first: None, second: "a2"}  # what an experiment on v1 saw
    assert expected_by_id(v2) == expected_by_id(v3) == {first: "a1", second: "a2"}
    assert inputs(v3) == ["q1, reworded", "q2"]  # same id, same place, in every version
    edited = v3["items"][0]
    assert edited["metadata"] == {"by": "ann"} and edited["version_added"] == 3
    assert edited["source"] == {"trace_id": "ab" * 16, "span_id": "cd" * 8}
    assert datasets.edit_item("default", "golden", first, {"expected": None}) == 4
    assert expected_by_id(datasets.read("default", "golden"))[first] is None
    assert datasets.list_datasets("default")[0]["items"] == 2


def test_a_removed_item_leaves_the_next_version_only(metadata: Metadata) -> None:
    datasets = DatasetStore(metadata)
    datasets.create("default", "golden")
    _, (first, second) = datasets.add_items("default", "golden", [DatasetItem("q1"), DatasetItem("q2")])
    datasets.edit_item("default", "golden", second, {"expected": "a2"})
    assert datasets.remove_item("default", "golden", second) == 3
    assert inputs(datasets.read("default", "golden")) == ["q1"]
    assert expected_by_id(datasets.read("default", "golden", 2)) == {first: None, second: "a2"}
    with pytest.raises(ItemNotFound, match=f"no item {second} in its current version"):
        datasets.remove_item("default", "golden", second)
    with pytest.raises(ItemNotFound):
        datasets.edit_item("default", "golden", 999, {"expected": "x"})
    assert datasets.read("default", "golden")["version"] == 3  # a refused change makes no version
    with pytest.raises(DatasetNotFound, match="'nope' not found"):
        datasets.remove_item("default", "nope", first)


def test_a_deleted_dataset_frees_its_name_and_its_experiments_stay_readable(metadata: Metadata) -> None:
    datasets, experiments = DatasetStore(metadata), ExperimentStore(metadata)
    datasets.create("default", "golden", "old")
    datasets.add_items("default", "golden", [DatasetItem("q1")])
    experiments.create(NewExperiment("default", "run-1", "golden", 1, "app", 1))
    experiments.add_results("default", "run-1", [{"item_id": 1, "output": "a", "passed": True}])
    datasets.delete("default", "golden")
    with pytest.raises(DatasetNotFound):
        datasets.read("default", "golden")
    with pytest.raises(DatasetNotFound):
        datasets.delete("default", "golden")
    assert datasets.list_datasets("default") == []
    assert experiments.get("default", "run-1")["dataset"] == "golden"
    assert experiments.results("default", "run-1")[0]["output"] == "a"
    assert datasets.create("default", "golden", "new")["version"] == 0  # the name is free again
    assert datasets.read("default", "golden")["items"] == []


def test_concurrent_edits_of_one_item_leave_one_current_row(metadata: Metadata) -> None:
    datasets = DatasetStore(metadata)
    datasets.create("default", "golden")
    _, (key,) = datasets.add_items("default", "golden", [DatasetItem("q")])
    with ThreadPoolExecutor(max_workers=4) as pool:
        versions = list(pool.map(lambda n: datasets.edit_item("default", "golden", key, {"expected": f"a{n}"}),
                                 range(4)))
    assert sorted(versions) == [2, 3, 4, 5]
    (item,) = datasets.read("default", "golden")["items"]
    assert item["id"] == key and item["expected"] == f"a{versions.index(5)}"  # the last edit wins
    for version in versions:
        assert len(datasets.read("default", "golden", version)["items"]) == 1
