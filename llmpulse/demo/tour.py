"""What `llmpulse demo` does last: run the detectors once through the API, then print the pages to open.

Run now rather than at the scheduler's next pass (up to its interval away), the detectors have
scored the demo's answers on Quality, marked the silent model change on the charts and opened
incidents by the time the newcomer opens the UI. Through the API (`POST /api/v1/detectors/run`),
so it works against a `llmpulse serve` running anywhere; a server that cannot or will not run them
(an older llmpulse, a token without the admin role, a UI-only process) gets a sentence saying so,
and the detectors then run on their schedule.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import quote

import requests

from llmpulse.demo.evaluations import DemoApi
from llmpulse.demo.rollout import pages as rollout_pages
from llmpulse.demo.send import DemoSummary

STORED_TIMEOUT = 60.0  # seconds for the collector to write what the demo sent (it flushes every 0.5 s)
DETECTORS_TIMEOUT = 300.0  # a full pass over a fresh demo takes seconds; a loaded machine, more
POLL_SECONDS = 0.25


def stored_calls(api: DemoApi) -> int | None:
    """The LLM calls the project holds, all time (what the demo adds to); None when the API does not answer."""
    try:
        answer = api.call("GET", "/metrics/summary", **{"from": "0"})
    except requests.RequestException:
        return None
    return int(answer.json()["total"]["requests"]) if answer.ok else None


def run_detectors_now(api: DemoApi, before: int | None, sent: int, *, timeout: float = STORED_TIMEOUT,
                      clock: Callable[[], float] = time.monotonic) -> str:
    """Wait until the `sent` calls are stored (counted from `before`), then run every detector once.
    Returns a line for the terminal; never raises for the server's sake."""
    if before is None:
        return (f"detectors not run now: llmpulse's API does not answer at {api.url}; "
                "the server runs them on its schedule")
    deadline = clock() + timeout
    while (stored := stored_calls(api)) is None or stored < before + sent:
        if clock() > deadline:
            return (f"detectors not run now: {stored} of the {sent} calls sent were stored after {timeout:.0f} s; "
                    "the server runs them on its schedule")
        time.sleep(POLL_SECONDS)
    try:
        answer = api.session.post(f"{api.url}/api/v1/detectors/run", timeout=DETECTORS_TIMEOUT)
    except requests.RequestException as exc:
        return f"detectors not run now ({type(exc).__name__}): the server runs them on its schedule"
    return _detectors_line(answer)


def _detectors_line(answer: requests.Response) -> str:
    if answer.ok:
        runs = answer.json().get("runs", [])
        failed = [run["detector"] for run in runs if run.get("outcome") != "ok"]
        done = f"ran the {len(runs)} detectors once now (quality scores, drift, incidents)"
        return done + (f"; these did not finish ok: {', '.join(failed)}" if failed else "")
    why = {404: "this server has no POST /api/v1/detectors/run (an older llmpulse?)",
           401: "the API wants a token (--token, or LLMPULSE_TOKEN)",
           403: "running detectors needs the admin role: give an admin's token with --token",
           503: "this process runs no detectors (`llmpulse dashboard`): the `llmpulse detectors` process runs them"}
    reason = why.get(answer.status_code, f"HTTP {answer.status_code} {answer.text[:200]}")
    return f"detectors not run now: {reason}; the server runs them on its schedule"


@dataclass(frozen=True)
class Stop:
    """One page of the tour: its path under the UI's URL and what to look at there."""

    title: str
    path: str
    look_for: str


def tour(summary: DemoSummary, evaluations: bool, firing: Sequence[str] = ()) -> list[Stop]:
    """The pages in the order a newcomer would read them, each with what the demo put there;
    `firing`: the incidents the demo's example rules opened."""
    stops = [
        Stop("Overview", "/", f"requests, cost and latency of the {summary.llm_calls} calls just sent, "
                              f"with the silent change of {summary.drifting_model} marked on the charts"),
        Stop("Traces", "/traces", f"the {summary.traces} traces; search, filter, sort, Download CSV"),
        Stop("Costs", "/costs", "spend by model, provider, service, user; cache savings; unpriced calls"),
        Stop("Quality", "/quality", f"hallucination scores of a sample of the RAG answers ({summary.ungrounded} of "
                                    "them made up), failure signals, the model drift"),
        Stop("Alerts", "/alerts", _alerts_text(firing)),
    ]
    if summary.tool_trace:
        stops.insert(2, Stop("A trace", f"/traces/{quote(summary.tool_trace)}",
                             "an agent loop: its waterfall, tool calls and messages"))
    ab, shadow = rollout_pages()
    stops += [Stop("A/B test", ab, "prompt v1 against v2 of support-bot's RAG answers"),
              Stop("Shadow", shadow, f"{summary.shadow_calls} calls answered in shadow by a candidate model")]
    if evaluations:
        stops.append(Stop("Evaluations", "/evaluations", "the golden set and the two experiments on it"))
    return stops


def _alerts_text(firing: Sequence[str]) -> str:
    if not firing:
        return "alert rules, budgets, SLOs, guards and channels, and the incidents rules open"
    return f"{len(firing)} incidents the example rules opened ({', '.join(firing)}); rules, budgets, SLOs, guards"


def describe_tour(ui_url: str, stops: list[Stop]) -> str:
    width = max(len(stop.title) for stop in stops)
    lines = [f"  {stop.title:<{width}}  {ui_url.rstrip('/')}{stop.path}  — {stop.look_for}" for stop in stops]
    return "\n".join(["open the UI:", *lines])
