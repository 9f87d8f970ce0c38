"""The datasets API over real HTTP (real chDB, metadata on SQLite): create, list, read versions,
add items all or nothing, and take an item from a recorded LLM span."""

from __future__ import annotations

import json

import pytest
import requests

from tests.conftest import Running, api
from tests.spans import Call

ITEMS = [{"input": "How long do refunds take?", "expected": "14 days",
          "assertions": {"must_contain": ["14"], "regex": r"\d+ days"}},
         {"input": [{"role": "user", "content": "Return JSON"}],
          "assertions": {"json_schema": {"type": "object", "required": ["ok"]}}, "metadata": {"lang": "en"}}]


def created(running: Running, name: str = "golden") -> None:
    answer = api(running, "POST", "/datasets", {"name": name, "description": "refunds"})
    assert answer.status_code == 201 and answer.json() == {"name": name, "version": 0}, answer.text


def read(running: Running, name: str = "golden", **params: object) -> requests.Response:
    return api(running, "GET", f"/datasets/{name}", **params)


def test_versions_stay_readable_after_later_adds(running: Running) -> None:
    created(running)
    first = api(running, "POST", "/datasets/golden/items", ITEMS)
    assert first.status_code == 201 and first.json() == {"added": 2, "version": 1}
    second = api(running, "POST", "/datasets/golden/items", [{"input": "third"}])
    assert second.json() == {"added": 1, "version": 2}
    v1 = read(running, version=1).json()
    assert v1["version"] == 1 and [i["input"] for i in v1["items"]] == [ITEMS[0]["input"], ITEMS[1]["input"]]
    assert v1["items"][0]["assertions"] == ITEMS[0]["assertions"] and v1["items"][1]["metadata"] == {"lang": "en"}
    latest = read(running).json()
    assert latest["version"] == 2 and [i["input"] for i in latest["items"]][2] == "third"
    (listed,) = api(running, "GET", "/datasets").json()["datasets"]
    assert {k: listed[k] for k in ("name", "description", "version", "items")} == \
        {"name": "golden", "description": "refunds", "version": 2, "items": 3}
    assert listed["created_at"].endswith("+00:00")


@pytest.mark.parametrize(("bad", "words"), [
    ({"expected": "x"}, "item 1: input is required"),
    ({"input": "q", "assertions": {"sounds_right": True}}, "item 1: assertions.sounds_right is not an assertion kind"),
    ({"input": "q", "assertions": {"regex": "([a-z"}}, "item 1: assertions.regex is not a valid regular expression"),
    ({"input": "q", "assertions": {"json_schema": {"type": 12}}},
     "item 1: assertions.json_schema is not a valid JSON Schema"),
])
def test_one_bad_item_refuses_the_whole_request(running: Running, bad: dict, words: str) -> None:
    created(running)
    api(running, "POST", "/datasets/golden/items", [{"input": "kept"}])
    answer = api(running, "POST", "/datasets/golden/items", [{"input": "good"}, bad, {"input": "also good"}])
    assert answer.status_code == 400 and answer.json()["error"].startswith(words), answer.text
    after = read(running).json()
    assert after["version"] == 1 and [i["input"] for i in after["items"]] == ["kept"]


def test_unknown_datasets_and_versions_are_404_and_a_second_create_409(running: Running) -> None:
    created(running)
    assert read(running, "nope").status_code == 404
    assert read(running, version=1).json()["error"] == "dataset 'golden' has versions 0 to 0, not 1"
    assert read(running, version=1).status_code == 404
    assert read(running, version="latest").status_code == 400
    assert api(running, "POST", "/datasets/nope/items", [{"input": "q"}]).status_code == 404
    again = api(running, "POST", "/datasets", {"name": "golden"})
    assert again.status_code == 409 and "already exists" in again.json()["error"]
    assert api(running, "POST", "/datasets", {"name": "no spaces please"}).status_code == 400
    assert api(running, "GET", "/datasets", project="no-such-project").status_code == 404
    assert api(running, "POST", "/datasets/golden/items", {"input": "not a list"}).status_code == 400


def test_an_item_taken_from_a_span_holds_its_messages_answer_and_source(running: Running) -> None:
    prompt = [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": "Refund time?"}]
    answer = [{"role": "assistant", "content": "14 days."}]
    running.send_calls(Call(7, 3, extra={"gen_ai.input.messages": json.dumps(prompt),
                                         "gen_ai.output.messages": json.dumps(answer)}))
    created(running)
    source = {"trace_id": f"{7:032x}", "span_id": f"{3:016x}"}
    taken = api(running, "POST", "/datasets/golden/items/from-span", source)
    assert taken.status_code == 201 and taken.json()["added"] == 1 and taken.json()["version"] == 1, taken.text
    edited = api(running, "POST", "/datasets/golden/items/from-span", {**source, "expected": "Two weeks."})
    assert edited.json()["version"] == 2
    first, second = read(running).json()["items"]
    assert first["id"] == taken.json()["item_id"] and first["input"] == prompt and first["expected"] == "14 days."
    assert first["source"] == source and second["expected"] == "Two weeks."


def test_from_span_refuses_missing_spans_and_bad_ids(running: Running) -> None:
    running.send_calls(Call(8, 1))
    created(running)
    missing = api(running, "POST", "/datasets/golden/items/from-span", {"trace_id": f"{8:032x}", "span_id": "f" * 16})
    assert missing.status_code == 404 and "not found" in missing.json()["error"]
    bad = api(running, "POST", "/datasets/golden/items/from-span", {"trace_id": "xyz", "span_id": "f" * 16})
    assert bad.status_code == 400 and "trace_id must be 32 hex characters" in bad.json()["error"]
    unknown = api(running, "POST", "/datasets/nope/items/from-span", {"trace_id": f"{8:032x}", "span_id": f"{1:016x}"})
    assert unknown.status_code == 404 and "'nope' not found" in unknown.json()["error"]
    bare = api(running, "POST", "/datasets/golden/items/from-span", {"trace_id": f"{8:032x}", "span_id": f"{1:016x}"})
    assert bare.status_code == 400 and "has no input messages" in bare.json()["error"]
    assert read(running).json()["version"] == 0
