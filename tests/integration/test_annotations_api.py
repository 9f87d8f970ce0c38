"""Labels by hand over real HTTP (real chDB, metadata on SQLite): the annotation queue, labels as
the most authoritative verdict in the hallucination rate, sending a labelled span to a dataset,
editing a dataset's items, and who may do which when login is required."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import requests

from schemas.clickhouse.annotations import span_evaluations
from schemas.clickhouse.evaluations import insert_evaluations
from tests.conftest import Running, api, login_session
from tests.spans import Call

T = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
WINDOW = {"from": (T - timedelta(hours=1)).isoformat(), "to": (T + timedelta(hours=1)).isoformat()}


def trace(n: int) -> str:
    return f"{n:032x}"


def span(n: int) -> str:
    return f"{1:016x}"


def send_judged(running: Running, judged: dict[int, bool], headers: dict[str, str] | None = None) -> None:
    """One call per trace n (started n seconds after T, asking "question n?") and the LLM judge's
    verdict on it: hallucinated or not."""
    calls = [Call(n, start_ns=int((T + timedelta(seconds=n)).timestamp() * 10**9), extra={
        "gen_ai.input.messages": json.dumps([{"role": "user", "content": f"question {n}?"}]),
        "gen_ai.output.messages": json.dumps([{"role": "assistant", "content": f"answer {n}."}])})
        for n in judged]
    running.send_calls(*calls, headers=headers)
    insert_evaluations(running.service.store, [{
        "project_id": "default", "trace_id": trace(n), "span_id": span(n), "evaluation_id": "j", "scorer": "judge",
        "name": "hallucination", "score": 0.1 if bad else 0.9, "label": "hallucinated" if bad else "grounded",
        "reason": "says so", "hallucinated": bad, "request_model": "gpt-4o-mini",
        "span_time": T + timedelta(seconds=n), "source": "judge", "cost": None, "input_tokens": 0,
        "output_tokens": 0, "error": ""} for n, bad in judged.items()])


def queued(running: Running, kind: str, **params: object) -> list[dict]:
    answer = api(running, "GET", "/annotations/queue", kind=kind, **{**WINDOW, **params})
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


def traces_queued(running: Running, kind: str) -> list[int]:
    return [int(entry["trace_id"], 16) for entry in queued(running, kind)]


def label(running: Running, n: int, verdict: str, **extra: object) -> requests.Response:
    return api(running, "POST", "/annotations", {"trace_id": trace(n), "span_id": span(n), "label": verdict,
                                                 **extra})


def flagged_of_scored(running: Running) -> tuple[int, int]:
    total = api(running, "GET", "/quality/hallucination", **WINDOW).json()["total"]
    return total["flagged"], total["sampled"]


def test_the_queue_shows_unlabelled_spans_oldest_first_and_a_label_outranks_the_judge(running: Running) -> None:
    send_judged(running, {3: True, 1: True, 2: False})
    assert traces_queued(running, "sampled") == [1, 2, 3]
    assert traces_queued(running, "flagged") == [1, 3]
    first = queued(running, "flagged", limit=1)[0]
    assert first["input"] == [{"role": "user", "content": "question 1?"}] and first["answer"] == "answer 1."
    assert first["span_time"] == (T + timedelta(seconds=1)).isoformat() and first["model"] == "gpt-4o-mini"
    assert [(v["source"], v["label"], v["hallucinated"]) for v in first["verdicts"]] == \
        [("judge", "hallucinated", True)]
    assert flagged_of_scored(running) == (2, 3)

    stored = label(running, 1, "correct", comment="the refund window is right")
    assert stored.status_code == 201, stored.text
    assert stored.json()["label"] == "correct" and stored.json()["annotator"] == "local"  # open loopback UI
    assert flagged_of_scored(running) == (1, 3)  # the person's "correct" beats the judge's "hallucinated"
    assert traces_queued(running, "sampled") == [2, 3] and traces_queued(running, "flagged") == [3]

    assert label(running, 1, "incorrect", correct_answer="30 days.").status_code == 201  # relabel: replaces
    assert flagged_of_scored(running) == (2, 3)
    verdicts = span_evaluations(running.service.store, "default", [(trace(1), span(1))])[(trace(1), span(1))]
    assert [(v["source"], v["label"], v["correction"], v["annotator"]) for v in verdicts] == \
        [("human", "incorrect", "30 days.", "local"), ("judge", "hallucinated", "", "")]

    assert label(running, 3, "unsure").status_code == 201  # no verdict: the judge's still counts
    assert flagged_of_scored(running) == (2, 3)
    assert traces_queued(running, "flagged") == [] and traces_queued(running, "sampled") == [2]
    flagged = api(running, "GET", "/quality/flagged", **WINDOW).json()["spans"]
    assert [(s["trace_id"], s["scorer"], s["annotator"]) for s in flagged] == \
        [(trace(3), "judge", ""), (trace(1), "human", "local")]


def test_a_label_can_send_its_span_to_a_dataset_and_items_without_expected_are_queued(running: Running) -> None:
    send_judged(running, {1: False, 2: True, 3: True})
    assert api(running, "POST", "/datasets", {"name": "golden"}).status_code == 201
    right = label(running, 1, "correct", dataset="golden")
    assert right.status_code == 201 and right.json()["dataset"] == "golden" and right.json()["version"] == 1
    corrected = label(running, 2, "incorrect", correct_answer="answer two, fixed.", dataset="golden")
    unanswered = label(running, 3, "incorrect", dataset="golden")
    items = api(running, "GET", "/datasets/golden").json()["items"]
    assert [(i["input"], i["expected"]) for i in items] == [
        ([{"role": "user", "content": "question 1?"}], "answer 1."),
        ([{"role": "user", "content": "question 2?"}], "answer two, fixed."),
        ([{"role": "user", "content": "question 3?"}], None)]
    assert [i["id"] for i in items] == [right.json()["item_id"], corrected.json()["item_id"],
                                        unanswered.json()["item_id"]]

    (todo,) = queued(running, "dataset", dataset="golden")
    assert todo["item"]["id"] == unanswered.json()["item_id"] and todo["item"]["source"]["trace_id"] == trace(3)
    edit = api(running, "PATCH", f"/datasets/golden/items/{todo['item']['id']}", {"expected": "answer 3, fixed."})
    assert edit.status_code == 200 and edit.json()["version"] == 4, edit.text
    assert queued(running, "dataset", dataset="golden") == []


def test_bad_labels_are_refused_and_store_nothing(running: Running) -> None:
    send_judged(running, {1: True})
    refusals = [
        (label(running, 1, "maybe"), 400, "label must be one of correct, incorrect, unsure"),
        (label(running, 1, "correct", colour="blue"), 400, "unknown field 'colour'"),
        (api(running, "POST", "/annotations", {"trace_id": "xyz", "span_id": span(1), "label": "correct"}), 400,
         "trace_id must be 32 hex characters"),
        (label(running, 9, "correct"), 404, "not found"),
        (label(running, 1, "correct", dataset="nope"), 404, "dataset 'nope' not found"),
        (label(running, 1, "correct", comment=5), 400, "comment must be a text"),
        (api(running, "GET", "/annotations/queue", kind="dataset"), 400, "kind=dataset needs dataset="),
        (api(running, "GET", "/annotations/queue", kind="sampled", dataset="golden"), 400, "dataset= is for"),
        (api(running, "GET", "/annotations/queue", kind="all"), 400, "kind='all' is not one of"),
        (api(running, "GET", "/annotations/queue", kind="dataset", dataset="nope"), 404, "'nope' not found"),
    ]
    for answer, status, words in refusals:
        assert answer.status_code == status and words in answer.json()["error"], (answer.status_code, answer.text)
    assert traces_queued(running, "flagged") == [1]  # the refused label with a dataset stored no label


def test_items_are_edited_removed_and_datasets_deleted_by_their_routes(running: Running) -> None:
    assert api(running, "POST", "/datasets", {"name": "golden"}).status_code == 201
    api(running, "POST", "/datasets/golden/items", [{"input": "q1"}, {"input": "q2", "expected": "a2"}])
    first, second = (i["id"] for i in api(running, "GET", "/datasets/golden").json()["items"])
    edit = api(running, "PATCH", f"/datasets/golden/items/{first}",
               {"expected": "a1", "assertions": {"must_contain": ["a"]}})
    assert edit.json() == {"version": 2, "item_id": first}
    edited = api(running, "GET", "/datasets/golden").json()["items"][0]
    assert (edited["id"], edited["input"], edited["expected"], edited["assertions"]) == \
        (first, "q1", "a1", {"must_contain": ["a"]})
    bad = api(running, "PATCH", f"/datasets/golden/items/{first}", {"assertions": {"sounds_right": True}})
    assert bad.status_code == 400 and bad.json()["error"].startswith(f"item {first}: assertions.sounds_right")
    assert api(running, "PATCH", f"/datasets/golden/items/{first}", {}).status_code == 400
    assert api(running, "PATCH", f"/datasets/golden/items/{first}", {"expeced": "x"}).status_code == 400
    assert api(running, "PATCH", "/datasets/golden/items/999", {"expected": "x"}).status_code == 404
    assert api(running, "PATCH", f"/datasets/nope/items/{first}", {"expected": "x"}).status_code == 404
    assert api(running, "DELETE", f"/datasets/golden/items/{second}").json() == {"version": 3, "item_id": second}
    assert api(running, "DELETE", f"/datasets/golden/items/{second}").status_code == 404
    assert [i["id"] for i in api(running, "GET", "/datasets/golden").json()["items"]] == [first]
    assert len(api(running, "GET", "/datasets/golden", version=2).json()["items"]) == 2
    assert api(running, "DELETE", "/datasets/golden").json() == {"name": "golden", "deleted": True}
    assert api(running, "GET", "/datasets/golden").status_code == 404
    assert api(running, "DELETE", "/datasets/golden").status_code == 404
    assert api(running, "POST", "/datasets", {"name": "golden"}).status_code == 201  # the name is free again


def test_a_viewer_labels_under_their_own_name_but_only_an_admin_sends_to_a_dataset(exposed: Running) -> None:
    key = exposed.service.metadata.create_key("default", "app").key
    send_judged(exposed, {1: True, 2: True}, {"Authorization": f"Bearer {key}"})
    admin = login_session(exposed.ui_url, "ada", "correct horse battery")
    viewer = login_session(exposed.ui_url, "vic", "viewer password 1")
    assert admin.post(exposed.ui_url + "/api/v1/datasets", json={"name": "golden"}, timeout=30).status_code == 201

    def post(client: requests.Session, n: int, **extra: object) -> requests.Response:
        body = {"trace_id": trace(n), "span_id": span(n), "label": "correct", **extra}
        return client.post(exposed.ui_url + "/api/v1/annotations", json=body, timeout=30)

    refused = post(viewer, 1, dataset="golden")
    assert refused.status_code == 403 and "needs the admin role" in refused.json()["error"]
    assert post(viewer, 1).json()["annotator"] == "vic"
    sent = post(admin, 2, dataset="golden", annotator="mallory")  # who labelled is never the body's to say
    assert sent.status_code == 400 and "unknown field 'annotator'" in sent.json()["error"]
    sent = post(admin, 2, dataset="golden")
    assert sent.status_code == 201 and sent.json()["annotator"] == "ada"
    items = admin.get(exposed.ui_url + "/api/v1/datasets/golden", timeout=30).json()["items"]
    assert [i["source"]["trace_id"] for i in items] == [trace(2)]
    edit = viewer.patch(exposed.ui_url + f"/api/v1/datasets/golden/items/{items[0]['id']}", json={"expected": "x"},
                        timeout=30)
    assert edit.status_code == 403
