"""Example alert rules the demo adds, so the Alerts page has incidents to read at once.

A fresh install has no rules, so the detectors it runs can open no incident, and the Alerts page
would show empty forms. The demo adds three rules over one day of calls, at thresholds its own
traffic crosses (its p95 latency is above 1.5 s, and it spends more than a cent), each named
"demo: …" and described as an example: a newcomer sees what firing looks like, then edits or
deletes them. They are added once: a second demo finds them by name and adds nothing.
"""

from __future__ import annotations

from typing import Any

import requests

from llmpulse.demo.evaluations import DemoApi

PREFIX = "demo: "
NOTE = "An example added by `llmpulse demo`: edit its threshold for your traffic, or delete it."
EXAMPLE_RULES: tuple[dict[str, Any], ...] = (
    {"name": PREFIX + "p95 latency above 1.5 s", "metric": "latency_p95_ms", "comparator": ">",
     "threshold": 1500, "window": "1d", "severity": "warning"},
    {"name": PREFIX + "error rate above 2%", "metric": "error_rate", "comparator": ">", "threshold": 0.02,
     "window": "1d", "severity": "critical"},
    {"name": PREFIX + "spend above $0.01 a day", "metric": "cost_total", "comparator": ">", "threshold": 0.01,
     "window": "1d", "severity": "warning"},
)


def add_example_rules(api: DemoApi) -> str:
    """Add the rules the project lacks; a line for the terminal, never raising for the server's sake."""
    try:
        listed = api.call("GET", "/alert-rules")
        if not listed.ok:
            return f"example alert rules not added: GET /api/v1/alert-rules answered HTTP {listed.status_code}"
        have = {rule["name"] for rule in listed.json()["rules"]}
        missing = [rule for rule in EXAMPLE_RULES if rule["name"] not in have]
        for rule in missing:
            answer = api.call("POST", "/alert-rules", {**rule, "description": NOTE})
            if answer.status_code != 201:
                return f"example alert rules not added: HTTP {answer.status_code} {answer.text[:200]}"
    except requests.RequestException as exc:
        return f"example alert rules not added ({type(exc).__name__})"
    if not missing:
        return f"the {len(EXAMPLE_RULES)} example alert rules ({PREFIX}…) are already there"
    return f"added {len(missing)} example alert rules ({PREFIX}…): edit or delete them on the Alerts page"


def firing_examples(api: DemoApi) -> list[str]:
    """The titles of the example rules' firing incidents (empty when none fired or the API is away)."""
    try:
        answer = api.call("GET", "/alerts", state="firing")
    except requests.RequestException:
        return []
    if not answer.ok:
        return []
    return sorted(i["title"] for i in answer.json() if str(i.get("title", "")).startswith(PREFIX))
