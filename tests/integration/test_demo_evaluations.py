"""After the demo, the Evaluations pages have their data: the golden set with items from recorded
spans, two finished experiments on one version with priced calls, and a comparison in which the
candidate regresses and fails the gate. An API that does not answer skips this part, with the reason.
The demo's live traffic fills the A/B page (prompt v2 slower) and the Shadow page."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from llmpulse.demo.evaluations import FROM_SPANS, GATE, DemoApi, pick_answers, run_evaluations
from llmpulse.demo.golden import DATASET, golden_items
from llmpulse.demo.labels import plan_labels
from llmpulse.demo.pipeline import BASELINE, CANDIDATE, FLAWS
from llmpulse.demo.rollout import CANDIDATE_MODEL, ORPHANS, PROMPT_VERSION
from llmpulse.demo.send import RecordedAnswer, run_demo
from schemas.clickhouse.annotations import span_evaluations
from tests.conftest import Running, api
from tests.e2e.server import free_port

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)  # names the experiments; their spans are sent as they run


def test_demo_fills_the_evaluations_pages(running: Running) -> None:
    sent = run_demo(running.otlp_url, traces=60, seed=7)
    report = run_evaluations(DemoApi(running.ui_url), running.otlp_url, answers=sent.rag_answers)
    assert not report.skipped and not report.notes, report.describe()

    dataset = api(running, "GET", f"/datasets/{DATASET}").json()
    assert len(dataset["items"]) == report.items == len(golden_items()) + FROM_SPANS + 1  # + one labelled
    sourced = [item for item in dataset["items"] if item["source"]]
    assert {item["source"]["span_id"] for item in sourced} <= {a.span_id for a in sent.rag_answers}
    assert len(sourced) == FROM_SPANS + 1
    assert_labelled(running, sent.rag_answers, report.labels, dataset["items"])

    baseline, candidate = (api(running, "GET", f"/experiments/{e['name']}").json() for e in report.experiments)
    for experiment in (baseline, candidate):
        assert experiment["status"] == "done" and experiment["dataset_version"] == dataset["version"]
        assert experiment["errors"] == 0 and experiment["cost_total"] > 0  # every item's calls priced
        assert experiment["latency_p50_ms"] > 100  # the pipeline's planned latency, not the demo's speed
    assert candidate["pass_rate"] < 0.8 < baseline["pass_rate"]
    assert candidate["cost_total"] < baseline["cost_total"]  # gpt-4.1-nano is the cheaper model

    comparison = api(running, "GET", "/experiments/compare", baseline=baseline["name"],
                     candidate=candidate["name"], **GATE).json()
    regressed = {question_of(item) for item in dataset["items"] if item["id"] in comparison["regressed"]}
    assert regressed == set(FLAWS[CANDIDATE]) - set(FLAWS[BASELINE])
    assert comparison["passed"] is False and comparison["pass_rate"]["p_value"] < 0.05
    assert "FAILS the gate" in report.describe() and "/evaluations/compare?baseline=" in report.describe()

    runs = api(running, "GET", "/detectors/runs", detector="hallucination").json()["runs"]
    assert [r["outcome"] for r in runs] == ["ok"] and runs[0]["rows_written"] > 0  # scored now, not on schedule
    queued = api(running, "GET", "/annotations/queue", kind="sampled", limit=100).json()["items"]
    assert queued  # the Annotate page has production answers to label
    experiment_traces = {r["trace_id"] for e in (baseline, candidate) for r in e["results"]}
    assert not experiment_traces & {entry["trace_id"] for entry in queued}  # reviewed on their own page

    trace = api(running, "GET", f"/traces/{candidate['results'][0]['trace_id']}").json()
    models = {s["request_model"]: s for s in trace["spans"] if s["request_model"]}
    assert models[CANDIDATE]["cost_total"] > 0 and models[CANDIDATE]["service_name"] == "support-bot"


def assert_labelled(running: Running, answers: Sequence[RecordedAnswer], counts: dict[str, int],
                    items: list[dict]) -> None:
    """Each planned label is a person's verdict on its span; the incorrect answer sent to the golden set
    has the knowledge base's answer as its expected output."""
    planned = plan_labels(answers, DATASET, pick_answers(answers))
    assert counts == {"correct": 3, "incorrect": 3, "unsure": 1} == dict(Counter(b["label"] for b in planned))
    keys = [(b["trace_id"], b["span_id"]) for b in planned]
    verdicts = span_evaluations(running.service.store, "default", keys)
    for body, key in zip(planned, keys, strict=True):
        assert [(v["source"], v["label"]) for v in verdicts[key]][:1] == [("human", body["label"])]
    sent = next(b for b in planned if "dataset" in b)
    item = next(i for i in items if i["source"] and i["source"]["span_id"] == sent["span_id"])
    assert sent["label"] == "incorrect" and item["expected"] == sent["correct_answer"]


def question_of(item: dict) -> str:
    value = item["input"]
    text = value if isinstance(value, str) else value[-1]["content"]
    return text.rsplit("Question:", 1)[-1].strip()


def test_a_second_demo_reuses_the_golden_set(running: Running) -> None:
    first = run_evaluations(DemoApi(running.ui_url), running.otlp_url, now=NOW)
    second = run_evaluations(DemoApi(running.ui_url), running.otlp_url, now=NOW + timedelta(minutes=5))
    assert first.version == second.version and first.items == second.items == len(golden_items())
    assert len(api(running, "GET", "/experiments").json()["experiments"]) == 4
    assert second.notes and "existed already" in second.notes[0]


def test_an_unreachable_api_skips_the_evaluations(running: Running, tmp_path: Path) -> None:
    report = run_evaluations(DemoApi(f"http://127.0.0.1:{free_port()}"), running.otlp_url)
    assert report.describe().startswith("evaluations skipped: llmpulse's API does not answer")
    assert api(running, "GET", "/datasets").json()["datasets"] == []


def test_demo_feeds_the_ab_and_shadow_pages(running: Running) -> None:
    sent = run_demo(running.otlp_url, traces=150, seed=7, days=0.25)
    running.flush()
    summary = api(running, "GET", "/metrics/summary", **{"from": "0"}).json()
    assert summary["total"]["requests"] == sent.llm_calls  # shadow calls cost, but are no user requests

    counts = dict(sent.prompt_versions)
    compared = api(running, "GET", "/compare", attribute=PROMPT_VERSION, a="v1", b="v2", **{"from": "0"}).json()
    assert (compared["a"]["requests"], compared["b"]["requests"]) == (counts["v1"], counts["v2"])
    latency = next(d for d in compared["differences"] if d["metric"] == "latency_ms")
    assert latency["b"] > latency["a"] and latency["p_value"] < 0.05, latency
    cost = next(d for d in compared["differences"] if d["metric"] == "cost_per_request")
    assert cost["b"] > cost["a"]

    report = api(running, "GET", "/shadow", **{"from": "0"}).json()
    assert {p["candidate_model"] for p in report["pairs"]} == {CANDIDATE_MODEL}
    assert sum(p["pairs"] for p in report["pairs"]) == sent.shadow_calls - sent.unpaired_shadows
    assert report["unpaired_total"] == sent.unpaired_shadows == len(ORPHANS)
    agreement = [p["agreement"] for p in report["pairs"]]
    assert all(0 < a < 1 for a in agreement)  # some answers the same, some divergent
