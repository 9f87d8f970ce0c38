"""GET /api/v1/users/<id>, GET /api/v1/sessions/<id> and a trace's totals, through real chDB and real
HTTP, fed real OTLP spans at explicit times."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import Running, api, make_settings, start_service
from tests.spans import Call

T = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
WINDOW = {"from": (T - timedelta(days=1)).isoformat(), "to": (T + timedelta(days=1)).isoformat()}


def at(minutes: float) -> int:
    return int((T + timedelta(minutes=minutes)).timestamp() * 10**9)


def chat(asked: list[tuple[str, str]], said: str) -> dict[str, object]:
    return {"gen_ai.input.messages": json.dumps([{"role": r, "content": c} for r, c in asked]),
            "gen_ai.output.messages": json.dumps([{"role": "assistant", "content": said}])}


def trace_id(n: int) -> str:
    return f"{n:032x}"


@pytest.fixture(scope="module")
def people(tmp_path_factory: pytest.TempPathFactory, chdb_dsn: str) -> Iterator[Running]:
    """u-1: session s-1 (traces 1 and 2, three calls, one failed), session s-2 (trace 3), and a call a
    month before the window; u-2: trace 4 in s-3. Feedback on traces 1 and 4."""
    running = start_service(make_settings(tmp_path_factory.mktemp("people"), chdb_dsn))
    running.send_calls(
        Call(1, 1, start_ns=at(1), user="u-1", session="s-1", input_tokens=100, output_tokens=20,
             extra=chat([("system", "be brief"), ("user", "hi")], "hello")),
        Call(2, 1, start_ns=at(5), user="u-1", session="s-1", input_tokens=1200, output_tokens=30, ttft_ms=250.0,
             extra=chat([("system", "be brief"), ("user", "hi"), ("assistant", "hello"), ("user", "refund?")],
                        "sure")),
        Call(2, 2, start_ns=at(6), user="u-1", session="s-1", error=True, input_tokens=50, output_tokens=0),
        Call(3, 1, start_ns=at(120), user="u-1", session="s-2", model="gpt-4o", input_tokens=10, output_tokens=5),
        Call(4, 1, start_ns=at(3), user="u-2", session="s-3", extra=chat([("user", "other")], "person")),
        Call(5, 1, start_ns=at(-60 * 24 * 30), user="u-1", session="s-1"),
        Call(6, 1, start_ns=at(7), user="org/acme user", session="chat/42", extra=chat([("user", "slash")], "ok")),
    )
    for n, value in ((1, 1), (4, 0)):
        body = {"trace_id": trace_id(n), "name": "thumbs", "value": value, "source": "feedback"}
        assert api(running, "POST", "/scores", body).status_code == 201
    yield running
    running.service.stop()


def test_a_users_calls_spend_errors_feedback_and_sessions_in_the_window(people: Running) -> None:
    body = people.get("/api/v1/users/u-1", **WINDOW).json()
    listed = people.get("/api/v1/traces", user="u-1", **WINDOW).json()["traces"]
    summary = body["summary"]
    assert (summary["requests"], summary["errors"], summary["input_tokens"]) == (4, 1, 1360)
    assert summary["cost"]["total"] == pytest.approx(sum(t["cost"] for t in listed))
    assert [(s["session_id"], s["traces"], s["calls"], s["errors"]) for s in body["sessions"]] == [
        ("s-2", 1, 1, 0), ("s-1", 2, 3, 1)]
    assert [(f["scorer"], f["count"], f["mean"]) for f in body["feedback"]] == [("feedback:thumbs", 1, 1.0)]
    points = body["series"]["points"]
    assert body["series"]["bucket"] == "hour" and sum(p["requests"] for p in points) == 4
    assert sum(p["errors"] for p in points) == 1


def test_a_user_outside_the_window_or_unknown_has_nothing(people: Running) -> None:
    before = {"from": (T - timedelta(days=40)).isoformat(), "to": (T - timedelta(days=20)).isoformat()}
    assert people.get("/api/v1/users/u-1", **before).json()["summary"]["requests"] == 1
    nobody = people.get("/api/v1/users/nobody", **WINDOW).json()
    assert (nobody["summary"]["requests"], nobody["sessions"], nobody["feedback"]) == (0, [], [])


def test_a_sessions_traces_in_order_and_its_conversation_as_one_transcript(people: Running) -> None:
    body = people.get("/api/v1/sessions/s-1", **WINDOW).json()
    assert [t["trace_id"] for t in body["traces"]] == [trace_id(1), trace_id(2)]
    assert body["users"] == ["u-1"] and body["totals"]["calls"] == 3 and body["totals"]["traces"] == 2
    assert [(turn["role"], turn["text"], turn["trace_id"]) for turn in body["transcript"]] == [
        ("user", "hi", trace_id(1)), ("assistant", "hello", trace_id(1)),
        ("user", "refund?", trace_id(2)), ("assistant", "sure", trace_id(2))]
    assert body["transcript"][0]["time"].endswith("+00:00")


def test_a_traces_totals_are_its_calls(people: Running) -> None:
    body = people.get(f"/api/v1/traces/{trace_id(2)}").json()
    spans = body["spans"]
    assert body["totals"]["calls"] == 2 and body["totals"]["errors"] == 1
    assert body["totals"]["input_tokens"] == sum(s["input_tokens"] for s in spans) == 1250
    assert body["totals"]["cost"] == pytest.approx(sum(s["cost_total"] or 0 for s in spans))
    listed = next(t for t in people.get("/api/v1/traces", **WINDOW).json()["traces"] if t["trace_id"] == trace_id(2))
    assert body["totals"]["cost_exact"] == listed["cost_exact"]


def test_a_window_too_long_or_an_id_too_long_is_a_400_naming_it(people: Running) -> None:
    long = {"from": (T - timedelta(days=100)).isoformat(), "to": T.isoformat()}
    answer = people.get("/api/v1/sessions/s-1", **long)
    assert answer.status_code == 400 and "from..to" in answer.json()["error"]
    answer = people.get("/api/v1/users/" + "x" * 600)
    assert answer.status_code == 400 and "user id" in answer.json()["error"]


def test_ids_with_a_slash_or_a_space_are_found_when_encoded(people: Running) -> None:
    """Apps use ids such as "org/acme user": the UI's links send them percent-encoded (%2F)."""
    user = people.get("/api/v1/users/org%2Facme%20user", **WINDOW)
    assert user.status_code == 200 and user.json()["summary"]["requests"] == 1, user.text
    session = people.get("/api/v1/sessions/chat%2F42", **WINDOW).json()
    assert session["users"] == ["org/acme user"] and [t["text"] for t in session["transcript"]] == ["slash", "ok"]
