"""Datasets and experiments written through the stores, as the API and the runner write them, for
the Evaluations pages' browser tests: two versions of a golden set (one item hostile, one in chat
messages, one taken from a span), two finished runs of one version (the candidate regresses on
one item and improves on another), a run of the older version, and one still running."""

from __future__ import annotations

from dataclasses import dataclass, replace

from schemas.dataset_items import parse_items
from schemas.metadata.datasets import DatasetStore
from schemas.metadata.experiments import ExperimentStore, NewExperiment
from schemas.metadata.store import Metadata

HOSTILE = "<img src=x onerror=alert(1)>"
DATASET = "capitals"
BASELINE, CANDIDATE, OLD, RUNNING = "capitals-gpt-4o", "capitals-mini", "capitals-v1", "capitals-live"
FIRST = [
    {"input": "What is the capital of France?", "expected": "Paris", "metadata": {"topic": "europe"}},
    {"input": HOSTILE, "expected": HOSTILE},
    {"input": [{"role": "system", "content": "Answer in one word."},
               {"role": "user", "content": "Capital of Japan?"}], "expected": "Tokyo",
     "assertions": {"must_contain": ["Tokyo"], "must_not_contain": ["Kyoto"]}},
]
SECOND = [
    {"input": "Capital of Australia? Answer as JSON {\"capital\": ...}", "expected": "Canberra",
     "assertions": {"valid_json": True}},
    {"input": "Capital of Canada? " + "Think about it carefully and explain. " * 8, "expected": "Ottawa"},
]


@dataclass(frozen=True)
class EvalData:
    item_ids: list[int]  # in insertion order, both versions
    trace_id: str  # the span the candidate's first result came from


def fill(metadata: Metadata, project: str = "default", trace_id: str = f"{4242:032x}") -> EvalData:
    datasets, experiments = DatasetStore(metadata), ExperimentStore(metadata)
    datasets.create(project, DATASET, "Capitals of the world, one word each")
    _, first = datasets.add_items(project, DATASET, parse_items(FIRST))
    from_span = replace(parse_items(SECOND)[0], trace_id=trace_id, span_id=f"{1:016x}")  # as from-span stores it
    _, second = datasets.add_items(project, DATASET, [from_span, *parse_items(SECOND)[1:]])
    ids = first + second
    run(experiments, project, BASELINE, 2, [_result(ids[0], "Paris", True, 0.0021, 800.0),
                                            _result(ids[1], HOSTILE, True, 0.0019, 650.0),
                                            _result(ids[2], "Kyoto", False, 0.0020, 700.0, "must_contain"),
                                            _result(ids[3], '{"capital": "Canberra"}', True, 0.0024, 900.0),
                                            _result(ids[4], "Toronto", False, 0.0030, 1400.0, "expected_match")])
    run(experiments, project, CANDIDATE, 2, [_result(ids[0], "Lyon", False, 0.0002, 300.0, "expected_match",
                                                     trace_id),
                                             _result(ids[1], HOSTILE, True, 0.0002, 250.0),
                                             _result(ids[2], "Tokyo", True, 0.0002, 280.0),
                                             {"item_id": ids[3], "error": "HTTP 429 after 4 tries", "passed": False},
                                             _result(ids[4], "Ottawa", True, None, 350.0)])
    run(experiments, project, OLD, 1, [_result(i, "Paris", True, 0.001, 500.0) for i in first])
    experiments.create(NewExperiment(project, RUNNING, DATASET, 2, "service", 5, {"model": "gpt-4o-mini"}))
    experiments.add_results(project, RUNNING, [_result(ids[0], "Paris", True, 0.0002, 310.0)])
    return EvalData(ids, trace_id)


def run(experiments: ExperimentStore, project: str, name: str, version: int, results: list[dict]) -> None:
    model = "gpt-4o-mini" if "mini" in name else "gpt-4o"
    experiments.create(NewExperiment(project, name, DATASET, version, "service", len(results), {"model": model}))
    experiments.add_results(project, name, results)
    experiments.finish(project, name, "done")


def _result(item_id: int, output: str, passed: bool, cost: float | None, latency: float, failing: str = "",
            trace_id: str = "") -> dict:
    missed = failing == "expected_match"
    scores = {"expected_match": {"value": 0.0 if missed else 1.0, "passed": not missed,
                                 "reason": "the expected answer is not in the answer" if missed else ""}}
    if failing == "must_contain":
        scores["must_contain"] = {"value": 0.0, "passed": False, "reason": "missing 'Tokyo'"}
    return {"item_id": item_id, "output": output, "passed": passed, "cost": cost, "latency_ms": latency,
            "scores": scores, "trace_id": trace_id or f"{item_id + 1000:032x}", "span_id": f"{1:016x}"}
