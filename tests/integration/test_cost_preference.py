"""A project's cost_preference through the real API, ingest path and engine: which cost counts when an
app reports its own, ours kept beside it, and both shown in the trace JSON when they differ."""

from __future__ import annotations

from decimal import Decimal

from tests.conftest import Running, api
from tests.integration.test_cost_ingest import priced_call

OURS = Decimal("0.000021")  # gpt-4o-mini, 100 input and 10 output tokens at list price
REPORTED = 0.0001  # what the app's own (negotiated, or stale) table says


def test_reported_cost_counts_when_the_project_prefers_it(running: Running) -> None:
    listed = priced_call(running, 31, "gpt-4o-mini", **{"gen_ai.usage.cost": REPORTED})
    assert listed["cost_source"] == "list_price" and Decimal(str(listed["cost_total"])) == OURS
    assert listed["cost_comparison"] == {"counted": "list_price", "computed": float(OURS), "reported": REPORTED,
                                         "difference_pct": 376.19}  # +376.19%

    bad = api(running, "PUT", "/projects/default", {"cost_preference": "cheapest"})
    assert bad.status_code == 400 and "cost_preference must be 'computed' or 'reported'" in bad.json()["error"]
    saved = api(running, "PUT", "/projects/default", {"cost_preference": "reported"})
    assert saved.status_code == 200 and saved.json()["cost_preference"] == "reported"
    projects = running.get("/api/v1/projects").json()["projects"]
    assert {p["name"]: p["cost_preference"] for p in projects} == {"default": "reported"}
    running.service.pipeline.prices.refresh()  # what the collector does by itself within 30 s

    counted = priced_call(running, 32, "gpt-4o-mini", **{"gen_ai.usage.cost": REPORTED})
    assert counted["cost_source"] == "reported" and counted["cost_total"] == REPORTED
    parts = [Decimal(str(counted[name])) for name in ("cost_input", "cost_output", "cost_cache_read",
                                                      "cost_cache_write", "cost_request")]
    assert sum(parts) == Decimal(str(REPORTED)) and Decimal(str(counted["cost_computed"])) == OURS
    assert counted["cost_comparison"]["counted"] == "reported"
    silent = priced_call(running, 33, "gpt-4o-mini")  # no reported cost: ours, as before
    assert silent["cost_source"] == "list_price" and silent["cost_comparison"] is None

    total = running.get("/api/v1/metrics/summary").json()["total"]
    assert Decimal(total["cost"]["total_exact"]) == OURS + Decimal(str(REPORTED)) + OURS
