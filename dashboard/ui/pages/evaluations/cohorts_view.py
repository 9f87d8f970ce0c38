"""The comparison of two cohorts as a page: their sizes, then every metric of both side by side with
the difference, the test's p-value and the effect size, significant differences marked.

It draws the dict GET /api/v1/compare answers (`{"a", "b", "differences", "note"}`), nothing more,
so every number here is one the API shows too. A metric's unit is read from its name. A difference
is marked significant by its Holm-adjusted p-value: with seven metrics tested at once, one of them
below 0.05 by chance alone is likely.
"""

from __future__ import annotations

from typing import Any

from dash import dcc, html

from dashboard.ui import format as fmt
from dashboard.ui.pages.evaluations import common
from dashboard.ui.tables import table
from dashboard.ui.urls import FILTERS, PageQuery

ALPHA = 0.05  # a difference with a p-value below this is marked significant
LABELS = {
    "error_rate": "Error rate", "hallucination_rate": "Hallucination rate", "latency_ms": "Latency p50",
    "ttft_ms": "Time to first token p50", "cost_per_request": "Cost per request",
    "output_tokens": "Output tokens per call",
}
# How the API's test ids read to a person (the ids stay as they are: scripts compare them).
TEST_NAMES = {"mann-whitney": "Mann\u2013Whitney U", "fisher exact": "Fisher's exact",
              "two-proportion z": "two-proportion z"}


def view(query: PageQuery, picked: dict[str, str], comparison: dict[str, Any]) -> Any:
    differences = comparison.get("differences") or []
    significant = [d for d in differences if _significant(d)]
    return html.Div([
        _note(comparison.get("note")),
        html.Div([_cohort_tile(query, picked, side, comparison.get(side) or {}) for side in ("a", "b")],
                 className="evals-tiles"),
        html.H2(f"Metrics: {len(significant)} of {len(differences)} differ significantly "
                f"(Holm-adjusted p < {ALPHA})"),
        _differences(picked, differences),
        html.H2("More figures"), _figures(picked, comparison.get("a") or {}, comparison.get("b") or {}),
    ])


def _note(note: str | None) -> Any:
    return common.empty(note, "ab-note") if note else None


def _cohort_tile(query: PageQuery, picked: dict[str, str], side: str, metrics: dict[str, Any]) -> Any:
    value = picked[side]
    requests = metrics.get("requests")
    link = _traces_link(query, picked, value)
    return common.tile(f"Cohort {side.upper()}", [fmt.count(requests) if requests is not None else fmt.MISSING,
                                                  " calls"], f"ab-cohort-{side}",
                       note=[f"{picked['attribute']} = {value}", *([" · ", link] if link else [])])


def _traces_link(query: PageQuery, picked: dict[str, str], value: str) -> Any:
    """The cohort's calls in the trace list, when the attribute is one of its filters."""
    if picked["attribute"] not in FILTERS:
        return None
    return dcc.Link("its traces", href=query.link("/traces", **{picked["attribute"]: value}))


def _differences(picked: dict[str, str], differences: list[dict[str, Any]]) -> Any:
    if not differences:
        return common.empty("No metric to compare: one cohort or both have no calls in this range.", "ab-metrics")
    head = ("Metric", f"A: {picked['a']}", f"B: {picked['b']}", "B vs A", "Test", "p (Holm)", "Effect", "")
    return table(head, [_row(d) for d in differences], "ab-metrics")


def _row(difference: dict[str, Any]) -> Any:
    metric = str(difference.get("metric", ""))
    a, b = difference.get("a"), difference.get("b")
    marked = _significant(difference)
    counts = f"{fmt.count(difference.get('n_a'))} and {fmt.count(difference.get('n_b'))} values"
    cells = [html.Td(label(metric), title=metric), html.Td(shown(metric, a)), html.Td(shown(metric, b)),
             html.Td(change(metric, a, b)), html.Td(_test_name(difference.get("test")), title=counts),
             html.Td(_p_cell(difference)),
             html.Td(_effect(difference.get("effect")), title=difference.get("effect_measure") or ""),
             html.Td(html.Span("significant", className="evals-chip bad" if worse(metric, a, b) else
                               "evals-chip good") if marked else "")]
    return html.Tr(cells, className="ab-row significant" if marked else "ab-row",
                   id="ab-" + metric.replace(":", "-").replace(" ", "-"))


def label(metric: str) -> str:
    if metric.startswith("feedback:"):
        return f"Feedback: {metric.partition(':')[2]}"
    return LABELS.get(metric, metric.replace("_", " ").capitalize())


def _p_cell(difference: dict[str, Any]) -> Any:
    if difference.get("p_value") is None:
        return html.Span(difference.get("reason") or "not tested", className="muted")
    raw = f"unadjusted {_p(difference['p_value'])}"
    return html.Span(_p(difference.get("p_adjusted", difference["p_value"])), title=raw)


def _significant(difference: dict[str, Any]) -> bool:
    p = difference.get("p_adjusted", difference.get("p_value"))
    return isinstance(p, int | float) and p < ALPHA


def shown(metric: str, value: Any) -> str:
    """A metric's value in its unit, told by its name: money, time, a rate or a count."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return fmt.MISSING if value is None else str(value)
    if "cost" in metric:
        return fmt.usd(value)
    if metric.endswith("_ms"):
        return fmt.ms(value)
    if metric.endswith("rate") or metric.endswith("_share"):
        return fmt.pct(value)
    return f"{value:,.1f}" if isinstance(value, float) and not value.is_integer() else fmt.full(value)


def _test_name(test: str | None) -> str:
    return TEST_NAMES.get(test, test) if test else fmt.MISSING


def change(metric: str, a: Any, b: Any) -> str:
    """B against A: percentage points for a rate, a relative change otherwise."""
    if not all(isinstance(v, int | float) for v in (a, b)):
        return fmt.MISSING
    if metric.endswith("rate") or metric.endswith("_share"):
        return f"{(b - a) * 100:+.1f} points"
    return f"{(b - a) / a * 100:+.1f}%" if a else fmt.MISSING


def worse(metric: str, a: Any, b: Any) -> bool:
    """B is worse than A: more of anything but requests and feedback (latency, cost, errors, hallucinations)."""
    if not all(isinstance(v, int | float) for v in (a, b)):
        return False
    higher_is_better = metric == "requests" or "feedback" in metric or "score" in metric
    return b < a if higher_is_better else b > a


def _p(value: Any) -> str:
    return fmt.MISSING if value is None else f"{value:.2g}" if value >= 0.001 else "< 0.001"


def _effect(value: Any) -> str:
    return fmt.MISSING if value is None else f"{value:+.2f}"


def _figures(picked: dict[str, str], a: dict[str, Any], b: dict[str, Any]) -> Any:
    """What the tests do not cover: tails, totals and how many calls each figure rests on."""
    rows = [(name, getter(a), getter(b)) for name, getter in FIGURES]
    head = ("", f"A: {picked['a']}", f"B: {picked['b']}")
    return table(head, [html.Tr([html.Td(name, className="muted"), html.Td(x), html.Td(y)]) for name, x, y in rows],
                 "ab-figures")


def _dig(cohort: dict[str, Any], *path: str) -> Any:
    for key in path:
        cohort = cohort.get(key) if isinstance(cohort, dict) else None
    return cohort


FIGURES = (
    ("Calls", lambda c: fmt.full(c.get("requests"))),
    ("Errors", lambda c: fmt.full(c.get("errors"))),
    ("Latency p95", lambda c: fmt.ms(_dig(c, "latency_ms", "p95"))),
    ("Time to first token p95", lambda c: fmt.ms(_dig(c, "ttft_ms", "p95"))),
    ("Streamed calls", lambda c: fmt.full(_dig(c, "ttft_ms", "streamed_requests"))),
    ("Cost", lambda c: fmt.usd(_dig(c, "cost", "total"))),
    ("Unpriced calls", lambda c: fmt.full(_dig(c, "cost", "unpriced_requests"))),
    ("Output tokens", lambda c: fmt.full(_dig(c, "output_tokens", "total"))),
    ("Answers scored for hallucination", lambda c: f"{fmt.full(_dig(c, 'hallucination', 'flagged'))} flagged of "
                                                   f"{fmt.full(_dig(c, 'hallucination', 'scored'))}"),
)
