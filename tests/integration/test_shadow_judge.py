"""The shadow judge end to end: the real OpenTelemetry SDK exporter sends an app's calls and their
shadow calls, the shadow_pairs and shadow_judge detectors run, and a local fake OpenAI-compatible
judge, which prefers the answer that names Paris whichever place it is shown in, decides each pair.
GET /api/v1/shadow must report its preferences mapped back to primary and candidate (a wrong mapping
of the swapped order would show as the wrong side), a person's or the app's verdict outranks it,
and a failing judge leaves no verdict and fails no run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.id_generator import IdGenerator

from detectors.scoring.preference_judge import candidate_shown_first
from schemas.clickhouse.evaluations import EVALUATION_COLUMNS, insert_evaluations
from tests.conftest import Running, api, make_settings, run_detectors, start_service
from tests.fake_openai import Behaviour, FakeOpenAI, Received, failing
from tests.integration.test_shadow import MS, Pair, send_trace

JUDGE = "gpt-4o-mini"  # priced by genai-prices: $0.15 / $0.60 per million tokens
RIGHT, WRONG, OTHER_WRONG = "Paris is the capital of France.", "Berlin is the capital of France.", "Lyon, I think."
PRIMARY_WINS = [Pair(RIGHT, WRONG, 100, 200)] * 4
CANDIDATE_WINS = [Pair(OTHER_WRONG, RIGHT, 100, 200)] * 4
TIE_PAIR = Pair(RIGHT, "Paris is the capital.", 100, 200)
NO_ANSWER = Pair(RIGHT, "", 100, 200, candidate_error=True)


class CountingIds(IdGenerator):
    """Ids from a counter, so which pairs show the candidate first is the same on every run."""

    def __init__(self, seed: int) -> None:
        self.next = seed

    def generate_span_id(self) -> int:
        self.next += 1
        return self.next

    def generate_trace_id(self) -> int:
        self.next += 1
        return self.next << 64 | 0xABC


class PreferringJudge(FakeOpenAI):
    """Answers the preference prompt as a judge that knows the capital of France would."""

    def _behaviour(self, model: str, question: str) -> Behaviour:
        a, b = shown_answers(question)
        right = ("Paris" in a, "Paris" in b)
        winner = "tie" if right[0] == right[1] else "A" if right[0] else "B"
        return Behaviour(text=json.dumps({"winner": winner, "reason": f"{winner}: Paris is the capital."}))


def shown_answers(prompt: str) -> tuple[str, str]:
    """(answer A, answer B) as the judge's prompt shows them."""
    a = prompt.split("Answer A:\n", 1)[1]
    return a.split("\n\nAnswer B:\n", 1)[0], a.split("\n\nAnswer B:\n", 1)[1]


def send_pairs(running: Running, pairs: list[Pair], seed: int) -> tuple[list[tuple[str, str, str]], dict]:
    base = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=2)
    base_ns, ids = int(base.timestamp() * 1e9), CountingIds(seed)
    sent = [send_trace(running.otlp_url, base_ns + i * 10_000 * MS, pair, ids) for i, pair in enumerate(pairs)]
    running.flush()
    assert api(running, "PUT", "/projects/default", {"eval_sample_rate": 1.0}).status_code == 200
    return sent, {"from": (base - timedelta(hours=1)).isoformat(), "to": (base + timedelta(hours=1)).isoformat()}


def judge_rows(running: Running) -> list[dict]:
    return running.service.store.query_dicts(
        "SELECT trace_id, span_id, scorer, label, reason, source, annotator, cost, input_tokens, output_tokens, "
        "error FROM {db}.evaluations FINAL WHERE name = 'shadow_preference' ORDER BY trace_id", {}, "test")


@pytest.fixture
def judge() -> Iterator[PreferringJudge]:
    with PreferringJudge() as fake:
        yield fake


def with_judge(tmp_path: Path, chdb_dsn: str, fake: FakeOpenAI) -> Running:
    return start_service(make_settings(tmp_path, chdb_dsn, judge_url=fake.url, judge_model=JUDGE,
                                       judge_api_key="sk-judge"))


def test_the_judges_preferences_are_mapped_back_whatever_order_it_saw(tmp_path: Path, chdb_dsn: str,
                                                                      judge: PreferringJudge) -> None:
    running = with_judge(tmp_path, chdb_dsn, judge)
    try:
        sent, window = send_pairs(running, [*PRIMARY_WINS, *CANDIDATE_WINS, TIE_PAIR, NO_ANSWER], seed=1000)
        orders = [candidate_shown_first(trace, candidate) for trace, _, candidate in sent]
        assert set(orders[:4]) == set(orders[4:8]) == {True, False}  # each side wins in both orders
        (_, run) = run_detectors(running, "shadow_pairs", "shadow_judge")
        assert (run["rows_read"], run["rows_written"]) == (10, 10), run
        assert run["message"].startswith("9 pair(s) judged, 1 skipped"), run
        check_requests(judge.received(), sent, orders)
        check_rows(judge_rows(running), sent)
        pair = api(running, "GET", "/shadow", **window).json()["pairs"][0]
        assert pair["judge_preference"] == {
            "primary": 4, "candidate": 4, "tie": 1, "judged": 9, "candidate_share": pytest.approx(4 / 9),
            "sources": {"judge": 9, "app": 0, "human": 0}, "judge_agreement": {"pairs": 0, "agreed": 0, "rate": None}}
        (_, again) = run_detectors(running, "shadow_pairs", "shadow_judge")
        assert again["rows_read"] == 0 and len(judge.received()) == 9  # every pair has its verdict
        check_precedence(running, sent, window)
    finally:
        running.service.stop()


def check_requests(received: list[Received], sent: list[tuple[str, str, str]], orders: list[bool]) -> None:
    """One request per pair with both answers (none for the pair without one), in the pair's order."""
    assert len(received) == 9
    assert {(r.model, r.temperature, r.authorization) for r in received} == {(JUDGE, 0, "Bearer sk-judge")}
    shown = {shown_answers(r.question) for r in received}
    for pair, candidate_first in zip([*PRIMARY_WINS, *CANDIDATE_WINS, TIE_PAIR], orders, strict=False):
        answers = (pair.candidate_answer, pair.primary_answer)
        assert (answers if candidate_first else answers[::-1]) in shown
    assert all("What is the capital of France?" in r.question and "Context:" in r.question for r in received)


def check_rows(rows: list[dict], sent: list[tuple[str, str, str]]) -> None:
    by_span = {r["span_id"]: r for r in rows}
    assert set(by_span) == {candidate for _, _, candidate in sent}  # filed on the shadow spans
    labels = [by_span[candidate]["label"] for _, _, candidate in sent]
    assert labels == ["primary"] * 4 + ["candidate"] * 4 + ["tie", "skipped"]
    judged = [by_span[candidate] for _, _, candidate in sent[:9]]
    for row in judged:
        assert (row["scorer"], row["source"], row["annotator"], row["error"]) == ("shadow_judge", "judge", JUDGE, "")
        assert row["input_tokens"] > 100 and row["output_tokens"] > 0
        price = row["input_tokens"] * 0.15e-6 + row["output_tokens"] * 0.6e-6
        assert float(row["cost"]) == pytest.approx(price)
        assert "Paris is the capital." in row["reason"] and "[A = " in row["reason"]
    skipped = by_span[sent[9][2]]
    assert skipped["cost"] is None and skipped["input_tokens"] == 0 and "not stored" in skipped["reason"]


def check_precedence(running: Running, sent: list[tuple[str, str, str]], window: dict) -> None:
    """An app's verdict outranks the judge's; where both gave one, the report says how often they agree."""
    overrule = {"trace_id": sent[0][0], "span_id": sent[0][2], "name": "shadow_preference", "label": "candidate"}
    confirm = {"trace_id": sent[4][0], "span_id": sent[4][2], "name": "shadow_preference", "label": "Candidate"}
    for verdict in (overrule, confirm):
        assert api(running, "POST", "/scores", verdict).status_code == 201
    preference = api(running, "GET", "/shadow", **window).json()["pairs"][0]["judge_preference"]
    assert (preference["primary"], preference["candidate"], preference["tie"]) == (3, 5, 1)
    assert preference["sources"] == {"judge": 7, "app": 2, "human": 0}
    assert preference["judge_agreement"] == {"pairs": 2, "agreed": 1, "rate": 0.5}
    # No route files a person's preference yet; one stored (as a future annotation page would) outranks both.
    (row,) = [r for r in judge_rows(running) if r["span_id"] == sent[4][2] and r["source"] == "judge"]
    person = {**row, "evaluation_id": "person-1", "scorer": "human", "label": "primary", "source": "human",
              "annotator": "ada", "cost": None, "name": "shadow_preference", "project_id": "default", "score": None,
              "hallucinated": None, "request_model": "gpt-4o", "span_time": span_time(running, sent[4])}
    insert_evaluations(running.service.store, [person], (*EVALUATION_COLUMNS, "annotator"))
    preference = api(running, "GET", "/shadow", **window).json()["pairs"][0]["judge_preference"]
    assert (preference["primary"], preference["candidate"], preference["sources"]) == (
        4, 4, {"judge": 7, "app": 1, "human": 1})
    assert preference["judge_agreement"] == {"pairs": 2, "agreed": 0, "rate": 0.0}


def span_time(running: Running, sent: tuple[str, str, str]) -> datetime:
    spans = api(running, "GET", f"/traces/{sent[0]}").json()["spans"]
    return datetime.fromisoformat(next(s["start_time"] for s in spans if s["span_id"] == sent[2]))


def test_a_judge_that_is_down_leaves_no_verdict_and_fails_no_run(tmp_path: Path, chdb_dsn: str) -> None:
    with FakeOpenAI(default=failing(503)) as fake:
        running = with_judge(tmp_path, chdb_dsn, fake)
        try:
            sent, window = send_pairs(running, [*PRIMARY_WINS[:2], *CANDIDATE_WINS[:1]], seed=2000)
            runs = run_detectors(running, "metrics", "shadow_pairs", "shadow_judge")  # every run ends ok
            judged = runs[-1]
            assert judged["rows_written"] == 0 and "the judge is unavailable (HTTP 503" in judged["message"]
            assert judged["message"].startswith("0 pair(s) judged, 0 skipped (an answer missing), 1 failed")
            assert len({r.question for r in fake.received()}) == 1  # it stopped after the first pair's retries
            assert judge_rows(running) == []
            assert api(running, "GET", "/shadow", **window).json()["pairs"][0]["judge_preference"] is None
            fake.default = Behaviour(text=json.dumps({"winner": "B", "reason": "back"}))
            run_detectors(running, "shadow_judge")
            assert {r["label"] for r in judge_rows(running)} <= {"primary", "candidate"}
            assert len(judge_rows(running)) == len(sent)  # the pairs waited for the next run
        finally:
            running.service.stop()


def test_a_pair_the_judge_never_answers_usably_is_given_up_after_three_runs(tmp_path: Path, chdb_dsn: str) -> None:
    with FakeOpenAI(default=Behaviour(text="Both answers have merit.")) as fake:
        running = with_judge(tmp_path, chdb_dsn, fake)
        try:
            send_pairs(running, PRIMARY_WINS[:2], seed=3000)
            for _ in range(2):
                (_, run) = run_detectors(running, "shadow_pairs", "shadow_judge")
                assert "2 failed (asked again next run)" in run["message"] and judge_rows(running) == []
            (_, run) = run_detectors(running, "shadow_pairs", "shadow_judge")
            assert "2 given up" in run["message"]
            rows = judge_rows(running)
            assert [r["label"] for r in rows] == ["error", "error"]
            assert all(r["error"].startswith("no verdict in 3 runs; the last: no JSON object") for r in rows)
            asked = len(fake.received())
            assert asked == 6
            (_, run) = run_detectors(running, "shadow_pairs", "shadow_judge")
            assert run["rows_read"] == 0 and len(fake.received()) == asked  # not asked forever
        finally:
            running.service.stop()
