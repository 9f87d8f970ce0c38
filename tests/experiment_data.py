"""Experiments written straight into the metadata DB (DatasetStore, ExperimentStore), for tests of
what reads them (the comparison API, the gate CLI) without running a target."""

from __future__ import annotations

from collections.abc import Sequence

from schemas.dataset_items import DatasetItem
from schemas.metadata.datasets import DatasetStore
from schemas.metadata.experiments import ExperimentStore, NewExperiment
from schemas.metadata.store import Metadata

# 20 items: 8 pass on main and fail on the PR, 1 the reverse, 5 pass on both, 6 fail on both.
MAIN = [True] * 8 + [False] + [True] * 5 + [False] * 6
PR = [False] * 8 + [True] + [True] * 5 + [False] * 6


def golden_set(metadata: Metadata, count: int = 20, name: str = "golden") -> list[int]:
    """A dataset whose version 1 has `count` items; returns their ids."""
    datasets = DatasetStore(metadata)
    datasets.create("default", name)
    items = [DatasetItem(f"question {n}", f"answer {n}") for n in range(count)]
    return datasets.add_items("default", name, items)[1]


def record_experiment(metadata: Metadata, name: str, items: Sequence[int], outcomes: Sequence[bool], *,
                      version: int = 1, status: str = "done", cost: float = 0.01, latency: float = 100.0,
                      dataset: str = "golden") -> None:
    """An experiment whose item i passed when outcomes[i]; its answers say which run gave them."""
    experiments = ExperimentStore(metadata)
    experiments.create(NewExperiment("default", name, dataset, version, "app", len(items), {"model": name}))
    experiments.add_results("default", name, [
        {"item_id": item, "output": f"{name} says {'right' if ok else 'wrong'} | <b>{n}</b>", "passed": ok,
         "scores": {"expected_match": {"value": float(ok)}}, "cost": cost, "latency_ms": latency + n}
        for n, (item, ok) in enumerate(zip(items, outcomes, strict=True))])
    if status != "running":
        experiments.finish("default", name, status, "endpoint down" if status == "failed" else "")
