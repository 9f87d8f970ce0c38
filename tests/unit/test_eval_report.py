"""The gate's text and markdown (llmpulse/eval_report.py) from a real comparison: long lists are
cut, answers are one escaped line, errors and chat inputs are shown."""

from __future__ import annotations

from evals.compare import compare_experiments
from evals.gate import Thresholds
from llmpulse.eval_report import MAX_LISTED, cell, render_markdown, render_summary, render_text
from tests.unit.test_compare import experiment, result


def many_regressions(count: int) -> dict:
    baseline = [result(i, True) for i in range(count)]
    candidate = [result(i, False) | {"output": f"line one\nline two | `{i}` <script>"} for i in range(count)]
    candidate[0] = result(0, None, error="HTTP 429 after 5 attempts")
    comparison = compare_experiments(experiment("main"), experiment("pr"), baseline, candidate, Thresholds())
    comparison["items"][1]["input"] = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi?"}]
    return comparison


def test_markdown_lists_at_most_the_first_regressions_escaped() -> None:
    markdown = render_markdown(many_regressions(MAX_LISTED + 5))
    rows = [line for line in markdown.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert len(rows) == MAX_LISTED and "…and 5 more." in markdown
    assert rows[0] == "| 0 |  | answer 0 | error: HTTP 429 after 5 attempts |"
    assert rows[1] == "| 1 | hi? | answer 1 | line one line two \\| '1' &lt;script&gt; |"
    assert "<script>" not in markdown and "<details><summary>Regressions (30)</summary>" in markdown


def test_text_says_the_verdict_and_cuts_long_lists() -> None:
    text = render_text(many_regressions(MAX_LISTED + 1))
    assert text.startswith("gate FAILED: pr against main on dataset golden version 1: 26 items paired")
    assert "  ... and 1 more (--format json lists every item)" in text
    assert text.endswith("verdict: failed: 1 of 1 check(s) failed")


def test_a_cell_is_one_clipped_line() -> None:
    assert cell("a\nb") == "a b" and len(cell("x" * 500)) == 80 and cell(None) == ""


def test_an_experiments_summary() -> None:
    summary = render_summary({"name": "pr", "dataset": "golden", "dataset_version": 3, "status": "failed",
                              "reason": "endpoint down", "target": {"model": "m", "endpoint": "http://x/v1"},
                              "progress": {"items_total": 10, "items_done": 4}, "passed": 2, "errors": 2,
                              "pass_rate": 0.5,
                              "ci_low": 0.15, "ci_high": 0.85, "cost_total": None, "latency_p50_ms": 120.0,
                              "latency_p95_ms": 15000.0, "scores": {"exact": {"mean": 0.5, "n": 4}}})
    assert summary.splitlines() == [
        "experiment pr on dataset golden version 3: failed (endpoint down)", "  target: m at http://x/v1",
        "  items: 4 of 10 done, 2 passed, 2 errors", "  pass rate: 50.0% (95% CI 15.0% to 85.0%)",
        "  cost: n/a total; latency p50 120 ms, p95 15.0 s", "  exact: mean 0.500 over 4 item(s)"]
