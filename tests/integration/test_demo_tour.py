"""The end of `llmpulse demo`: it waits until what it sent is stored, runs the detectors once through
the API so Quality has scored calls at once, and prints pages that answer. A server that has no such
endpoint, or refuses it, gets a sentence instead of a traceback."""

from __future__ import annotations

import requests

from llmpulse.demo.alerts import EXAMPLE_RULES, add_example_rules, firing_examples
from llmpulse.demo.evaluations import DemoApi
from llmpulse.demo.send import run_demo
from llmpulse.demo.tour import describe_tour, run_detectors_now, stored_calls, tour
from tests.conftest import Running, api
from tests.receiver import Receiver, Reply, receiver  # noqa: F401 (the fixture)


def test_the_detectors_run_once_the_calls_are_stored_and_every_page_answers(running: Running) -> None:
    assert api(running, "PUT", "/projects/default", {"eval_sample_rate": 1.0}).status_code == 200  # 10%: luck
    demo_api = DemoApi(running.ui_url)
    before = stored_calls(demo_api)
    assert before == 0
    sent = run_demo(running.otlp_url, traces=40, seed=7)
    assert add_example_rules(demo_api).startswith("added 3 example alert rules")
    line = run_detectors_now(demo_api, before, sent.llm_calls)
    assert line.startswith("ran the ") and "did not finish" not in line, line
    assert stored_calls(demo_api) == sent.llm_calls
    quality = api(running, "GET", "/quality/hallucination", **{"from": "0"}).json()["total"]
    assert quality["sampled"] > 0  # scored now, not at the scheduler's next pass
    firing = firing_examples(demo_api)  # the example rules opened incidents in the same pass
    assert firing == sorted(rule["name"] for rule in EXAMPLE_RULES), firing
    assert add_example_rules(demo_api) == "the 3 example alert rules (demo: …) are already there"
    assert len(api(running, "GET", "/alert-rules").json()["rules"]) == len(EXAMPLE_RULES)
    stops = tour(sent, evaluations=False, firing=firing)
    text = describe_tour(running.ui_url, stops)
    assert f"/alerts  — 3 incidents the example rules opened ({', '.join(firing)})" in text
    assert f"Overview  {running.ui_url}/  — requests, cost and latency of the {sent.llm_calls} calls" in text
    assert sent.tool_trace and any(stop.path == f"/traces/{sent.tool_trace}" for stop in stops)
    tools = api(running, "GET", f"/traces/{sent.tool_trace}").json()["spans"]
    assert any(span["operation"] == "execute_tool" for span in tools), [s["operation"] for s in tools]
    for stop in stops:
        page = requests.get(running.ui_url + stop.path, timeout=30)
        assert page.status_code == 200, stop


def test_a_server_without_the_endpoint_or_refusing_it_gets_a_sentence(receiver: Receiver) -> None:  # noqa: F811
    receiver.default = Reply(200, {"total": {"requests": 5}})
    demo_api = DemoApi(receiver.url)
    for status, words in ((404, "has no POST /api/v1/detectors/run"), (403, "needs the admin role"),
                          (503, "runs no detectors")):
        receiver.script = [Reply(200, {"total": {"requests": 5}}), Reply(status, {"error": "no"})]
        line = run_detectors_now(demo_api, 0, 5)
        assert line.startswith("detectors not run now: ") and words in line, line
    assert run_detectors_now(demo_api, None, 5).startswith("detectors not run now: llmpulse's API does not answer")


def test_calls_that_are_never_stored_end_the_wait_with_a_sentence(receiver: Receiver) -> None:  # noqa: F811
    receiver.default = Reply(200, {"total": {"requests": 3}})
    ticks = iter(range(100))
    line = run_detectors_now(DemoApi(receiver.url), 0, 5, timeout=2, clock=lambda: float(next(ticks)))
    assert line.startswith("detectors not run now: 3 of the 5 calls sent were stored"), line
    assert all(r.method == "GET" for r in receiver.requests)  # nothing was run


def test_example_rules_the_server_refuses_get_a_sentence(receiver: Receiver) -> None:  # noqa: F811
    receiver.script = [Reply(200, {"rules": []}), Reply(403, {"error": "the admin role is needed"})]
    line = add_example_rules(DemoApi(receiver.url))
    assert line.startswith("example alert rules not added: HTTP 403"), line
    receiver.script = [Reply(401, {"error": "no token"})]
    assert add_example_rules(DemoApi(receiver.url)).endswith("answered HTTP 401")
    assert firing_examples(DemoApi("http://127.0.0.1:9")) == []  # nothing listens there
