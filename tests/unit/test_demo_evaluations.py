"""The demo's golden set and pipeline, without a server: the items are valid and agree with their own
expected answers, and the two models fail exactly the items their flaw tables say, so every demo
shows the same regression."""

from __future__ import annotations

import time

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from dashboard.ui.format import usd
from evals.scorers import item_passed, score_answer
from llmpulse.demo.content import KNOWLEDGE_BASE
from llmpulse.demo.evaluations import BackdatedProvider, EvaluationsReport, pick_answers
from llmpulse.demo.golden import golden_items
from llmpulse.demo.labels import plan_labels
from llmpulse.demo.pipeline import BASELINE, CANDIDATE, FLAWS, answer_item
from llmpulse.demo.send import RecordedAnswer
from schemas.dataset_items import parse_items


def passes(model: str, index: int, item: dict) -> bool:
    output = answer_item(model, index, item["input"]).output
    return item_passed(score_answer(output, item.get("expected"), item.get("assertions") or {}))


def asked(item: dict) -> str:
    value = item["input"]
    return value if isinstance(value, str) else value[-1]["content"]


def test_golden_items_are_valid_and_their_expected_answers_meet_their_assertions() -> None:
    items = golden_items()
    assert len(parse_items(items)) == len(items) >= 30
    kinds = {kind for item in items for kind in item.get("assertions", {})}
    assert kinds >= {"must_contain", "must_not_contain", "valid_json", "json_schema"}
    for item in items:
        if item.get("expected"):
            checks = score_answer(item["expected"], item["expected"], item.get("assertions") or {})
            assert item_passed(checks), (item["input"], [c for c in checks if not c.passed])
    assert sum(1 for item in items if item["metadata"].get("context")) >= 20  # groundedness has context


def test_each_model_fails_exactly_its_flawed_items() -> None:
    items = golden_items()
    for model in (BASELINE, CANDIDATE):
        failed = {asked(item) for index, item in enumerate(items) if not passes(model, index, item)}
        assert failed == set(FLAWS[model]), model
    regressed = set(FLAWS[CANDIDATE]) - set(FLAWS[BASELINE])
    assert len(regressed) >= 8 and len(set(FLAWS[BASELINE]) - set(FLAWS[CANDIDATE])) == 1


def test_an_item_taken_from_a_rag_span_is_answered_from_its_question() -> None:
    messages = [{"role": "system", "content": "You are Acme Cloud's support assistant."},
                {"role": "user", "content": "Context:\n[kb-103] API rate limits: ...\n\nQuestion: Why am I getting "
                                            "429 errors from the API?"}]
    answer = answer_item(BASELINE, 99, messages)
    assert "Retry-After" in answer.output
    assert [step.name for step in answer.steps] == ["embeddings text-embedding-3-small", "vector_store.query",
                                                     "chat gpt-4o-mini"]
    chat = answer.steps[-1].attributes
    assert chat["gen_ai.usage.input_tokens"] > 50 and chat["gen_ai.response.model"].startswith("gpt-4o-mini-")
    assert answer.duration_ms > max(step.start_ms + step.duration_ms for step in answer.steps)


def test_answers_are_the_same_on_every_run() -> None:
    item = golden_items()[0]
    assert answer_item(CANDIDATE, 1, item["input"]) == answer_item(CANDIDATE, 1, item["input"])


def test_backdated_spans_start_their_planned_lead_ago() -> None:
    exporter = InMemorySpanExporter()
    inner = TracerProvider()
    inner.add_span_processor(SimpleSpanProcessor(exporter))
    provider = BackdatedProvider(inner)
    leads = [800_000_000, 300_000_000, 0]  # the last span has no planned lead: it starts now
    provider.leads.extend(leads[:2])
    tracer, bounds = provider.get_tracer("test"), []
    for _ in leads:
        before = time.time_ns()
        with tracer.start_as_current_span("item"):
            bounds.append((before, time.time_ns()))
    for span, lead, (before, after) in zip(exporter.get_finished_spans(), leads, bounds, strict=True):
        assert before - lead <= span.start_time <= after - lead


def test_picked_answers_are_grounded_and_distinct() -> None:
    question = "How do I reset my password?"
    answers = [RecordedAnswer("a" * 32, "1" * 16, False, question), RecordedAnswer("b" * 32, "2" * 16, True, question),
               RecordedAnswer("c" * 32, "3" * 16, True, question), RecordedAnswer("d" * 32, "4" * 16, True, "hi"),
               RecordedAnswer("e" * 32, "5" * 16, True, "Is the service down right now?")]
    assert [a.span_id for a in pick_answers(answers)] == ["2" * 16, "5" * 16]


def test_labels_mark_grounded_answers_correct_and_made_up_ones_incorrect_with_the_right_answer() -> None:
    questions = ["Can I get a refund on my annual plan?", "How do I reset my password?", "How do I add more seats?",
                 "Where can I see past incidents?", "Do you support SSO with Okta?"]
    grounded = [RecordedAnswer(f"{i:032x}", f"{i:016x}", True, q) for i, q in enumerate(questions, start=1)]
    wrong = [RecordedAnswer(f"{i:032x}", f"{i:016x}", False, questions[i % 5]) for i in range(10, 14)]
    bodies = plan_labels(grounded + wrong, "golden", taken=grounded[:1])
    assert [(b["span_id"][-1], b["label"]) for b in bodies] == [
        ("3", "correct"), ("4", "correct"), ("5", "correct"),
        ("a", "incorrect"), ("b", "incorrect"), ("c", "incorrect"), ("2", "unsure")]
    assert [b.get("dataset") for b in bodies] == [None] * 3 + ["golden"] + [None] * 3
    assert bodies[3]["correct_answer"] == KNOWLEDGE_BASE[0].answer  # question 10 % 5 = 0: the refund one
    assert "dataset" not in str(plan_labels(grounded + wrong, None))


def test_a_skipped_report_says_why() -> None:
    report = EvaluationsReport("http://127.0.0.1:9", skipped="llmpulse's API does not answer")
    assert report.describe() == "evaluations skipped: llmpulse's API does not answer"


def test_money_below_a_hundredth_of_a_cent_is_written_in_decimals() -> None:
    assert usd(5.19e-05) == "$0.0000519"
    assert usd(0.00012) == "$0.00012" and usd(3.5) == "$3.50" and usd(0) == "$0"
    assert "e" not in usd(1.234e-9)
