"""The comparison of two experiments as a page: the gate's verdict and its checks, pass rates with
McNemar's p-value, cost and latency side by side, the score tests, then every item with both
answers, regressions first.

It draws the dict `evals.compare.compare_experiments` returns (the API's answer), nothing more,
so every number here is one the API and `llmpulse eval gate` show too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dash import dcc, html

from dashboard.ui import format as fmt
from dashboard.ui.pages.evaluations import common
from dashboard.ui.tables import table
from dashboard.ui.urls import PageQuery

VERDICT_LABELS = {"regressed": "regressed", "improved": "improved", "unchanged": "unchanged"}


def view(query: PageQuery, comparison: dict[str, Any]) -> Any:
    return html.Div([
        _verdict(comparison),
        html.H2("Side by side"), _metrics(query, comparison),
        html.H2("Scores"), _scores(comparison["scores"]),
        html.H2(f"Items: {len(comparison['regressed'])} regressed, {len(comparison['improved'])} improved, "
                f"{comparison['unchanged']} unchanged"),
        _unpaired(comparison["unpaired"]),
        _items(query, comparison["items"]),
    ])


def _verdict(comparison: dict[str, Any]) -> Any:
    passed = comparison["passed"]
    title = "The candidate passes the gate" if passed else "The candidate fails the gate"
    checks = [html.Li([html.Span("✓ " if c["passed"] else "✗ ", className="ok" if c["passed"] else "error"),
                       c["message"]], className="gate-check") for c in comparison["checks"]]
    return html.Div([html.Strong(title), html.Ul(checks)], id="compare-verdict",
                    className="evals-verdict " + ("pass" if passed else "fail"))


def _metrics(query: PageQuery, comparison: dict[str, Any]) -> Any:
    base, cand = comparison["baseline"], comparison["candidate"]
    head = ("", _side_link(query, "Baseline", base["name"]), _side_link(query, "Candidate", cand["name"]), "Change")
    rate = comparison["pass_rate"]
    summary = comparison["summary"]
    cost = comparison["cost_total"]
    rows = [
        _row("Pass rate", fmt.pct(rate["baseline"]), fmt.pct(rate["candidate"]),
             f"{_points(rate['change'])} · McNemar p = {_p(rate['p_value'])}", "compare-pass-rate"),
        _row("95% interval", common.interval(summary["baseline"]["ci_low"], summary["baseline"]["ci_high"]),
             common.interval(summary["candidate"]["ci_low"], summary["candidate"]["ci_high"]), ""),
        _row("Errors", str(comparison["errors"]["baseline"]), str(comparison["errors"]["candidate"]), ""),
        _row(f"Cost ({cost.get('items', 0)} items priced on both sides)", fmt.usd(cost["baseline"]),
             fmt.usd(cost["candidate"]), _pct(cost["change_pct"]), "compare-cost"),
        _change_row("Cost per item", comparison["cost_per_item"], fmt.usd),
        _change_row("p50 latency", comparison["latency_p50_ms"], fmt.ms),
        _change_row("p95 latency", comparison["latency_p95_ms"], fmt.ms, "compare-p95"),
    ]
    return table(head, rows, "compare-metrics")


def _side_link(query: PageQuery, label: str, name: str) -> Any:
    return html.Span([f"{label} ", dcc.Link(name, href=common.link(query, common.experiment_path(name)))])


def _row(label: str, before: str, after: str, change: str, row_id: str | None = None) -> Any:
    cells = [html.Td(label, className="muted"), html.Td(before), html.Td(after), html.Td(change)]
    return html.Tr(cells, id=row_id) if row_id else html.Tr(cells)


def _change_row(label: str, change: dict[str, Any], shown: Callable[[Any], str], row_id: str | None = None) -> Any:
    return _row(label, shown(change["baseline"]), shown(change["candidate"]), _pct(change["change_pct"]), row_id)


def _points(change: float | None) -> str:
    return fmt.MISSING if change is None else f"{change * 100:+.1f} points"


def _pct(change: float | None) -> str:
    return fmt.MISSING if change is None else f"{change:+.1f}%"


def _p(value: float | None) -> str:
    return fmt.score(value)  # a p-value: "< 0.001", never "1.2e-05"


def _scores(scores: dict[str, dict[str, Any]]) -> Any:
    if not scores:
        return common.empty("No scorer gave a number on both sides.", "compare-scores")
    head = ("Scorer", "Items", "Baseline mean", "Candidate mean", "Mean change (95% interval)", "Wilcoxon p",
            "Effect (rank-biserial)")
    rows = [html.Tr([
        html.Td(name), html.Td(s["n"]), html.Td(f"{s['baseline_mean']:.3f}"), html.Td(f"{s['candidate_mean']:.3f}"),
        html.Td(f"{s['mean_difference']:+.3f}" + (f" ({s['ci_low']:+.3f} to {s['ci_high']:+.3f})"
                                                   if s["ci_low"] is not None and s["ci_high"] is not None else "")),
        html.Td(_p(s["p_value"]) if s["test"] else html.Span(s["note"], className="muted")),
        html.Td(fmt.MISSING if s["effect_size"] is None else f"{s['effect_size']:+.2f}"),
    ]) for name, s in scores.items()]
    return table(head, rows, "compare-scores")


def _unpaired(unpaired: dict[str, int]) -> Any:
    alone = [f"{count} item(s) only the {side.split('_')[0]} ran" for side, count in unpaired.items() if count]
    return html.P("Not compared: " + "; ".join(alone) + ".", className="muted") if alone else None


def _items(query: PageQuery, items: list[dict[str, Any]]) -> Any:
    if not items:
        return common.empty("No item was run by both.", "compare-items")
    head = ("#", "", "Input", "Expected", "Baseline answer", "Candidate answer")
    rows = [html.Tr([
        html.Td(item["item_id"]), html.Td(VERDICT_LABELS.get(item["verdict"], item["verdict"]),
                                          className=f"evals-verdict-cell {item['verdict']}"),
        html.Td(common.clipped(item.get("input"))), html.Td(common.clipped(item.get("expected"))),
        html.Td(_answer(query, item["baseline"])), html.Td(_answer(query, item["candidate"])),
    ], className=f"compare-row {item['verdict']}") for item in items]
    return table(head, rows, "compare-items")


def _answer(query: PageQuery, answer: dict[str, Any] | None) -> Any:
    if answer is None:
        return fmt.MISSING
    mark = html.Span("passed" if answer["passed"] else "error" if answer["error"] else "failed",
                     className="ok" if answer["passed"] else "error")
    text = html.Div(["error: ", answer["error"]], className="evals-text err") if answer["error"] \
        else common.clipped(answer["output"])
    trace = answer.get("trace_id")
    link = dcc.Link("trace", href=common.link(query, f"/traces/{trace}")) if trace else None
    cost = fmt.usd(answer["cost"]) if answer["cost"] is not None else "unpriced"
    measured = [] if answer["error"] else [" · ", cost, " · ", fmt.ms(answer["latency_ms"])]  # no answer, no cost
    facts = html.Div([mark, *measured, *([" · ", link] if link else [])], className="muted")
    return [text, facts]
