"""The comparison and an experiment's summary as text for a terminal or markdown for a pull request.

Both read the JSON of GET /api/v1/experiments/compare (or /experiments/<name>) and nothing else,
so what a CI log shows is what the API said. Answers are model output: in markdown they are
clipped, put on one line and escaped (`|`, `<`, `>`, backticks), so an answer cannot break the
table or inject HTML into a pull-request comment.
"""

from __future__ import annotations

from typing import Any

from evals.gate import format_cost, format_ms

CLIP = 80  # characters of an answer shown in a table
MAX_LISTED = 25  # regressions listed in full; the rest are counted
MARKDOWN_ESCAPES = str.maketrans({"|": "\\|", "<": "&lt;", ">": "&gt;", "`": "'", "\n": " ", "\r": " "})


def percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def change(value: float | None) -> str:
    return "" if value is None else f"{value:+.1f}%"


def clip(text: str | None, limit: int = CLIP) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= limit else flat[:limit - 1] + "…"


def escape(text: str) -> str:
    return text.translate(MARKDOWN_ESCAPES)


def cell(text: Any) -> str:
    """Model output in a table cell: clipped to one line and escaped."""
    return escape(clip(str(text) if text is not None else ""))


def shown_input(value: Any) -> str:
    """A chat input shows its last message's text, a plain input its text."""
    if isinstance(value, list) and value:
        last = value[-1]
        return str(last.get("content", "")) if isinstance(last, dict) else str(last)
    return "" if value is None else str(value)


def shown_answer(side: dict[str, Any] | None) -> str:
    if side is None:
        return ""
    return f"error: {side['error']}" if side.get("error") else side.get("output") or ""


# --- the rows both formats share ------------------------------------------------------------------


def metric_rows(comparison: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(metric, baseline, candidate, change) per line of the comparison's table."""
    rate = comparison["pass_rate"]
    rate_change = "" if rate["change"] is None else f"{rate['change'] * 100:+.1f} pts (McNemar p = " \
                                                    f"{rate['p_value']:.3g})"
    rows = [("pass rate", percent(rate["baseline"]), percent(rate["candidate"]), rate_change),
            ("errors", str(comparison["errors"]["baseline"] if comparison["baseline"] else ""),
             str(comparison["errors"]["candidate"]), "")]
    for key, label, shown in (("cost_total", "cost total", format_cost), ("cost_per_item", "cost per item",
                              format_cost), ("latency_p50_ms", "latency p50", format_ms),
                              ("latency_p95_ms", "latency p95", format_ms)):
        pair = comparison[key]
        rows.append((label, shown(pair["baseline"]) if comparison["baseline"] else "", shown(pair["candidate"]),
                     change(pair["change_pct"])))
    return rows + [score_row(name, score) for name, score in comparison["scores"].items()]


def score_row(name: str, score: dict[str, Any]) -> tuple[str, str, str, str]:
    test = (f"Wilcoxon p = {score['p_value']:.3g}, r = {score['effect_size']:+.2f}" if score["test"]
            else score["note"])
    return (f"{name} (mean)", f"{score['baseline_mean']:.3f}", f"{score['candidate_mean']:.3f}",
            f"{score['mean_difference']:+.3f} ({test})")


def heading(comparison: dict[str, Any]) -> str:
    candidate, baseline = comparison["candidate"], comparison["baseline"]
    where = f"dataset {candidate['dataset']} version {candidate['dataset_version']}"
    if baseline is None:
        return f"{candidate['name']} alone on {where}"
    unpaired = comparison["unpaired"]
    return (f"{candidate['name']} against {baseline['name']} on {where}: {comparison['paired']} items paired "
            f"({unpaired['baseline_only']} only in the baseline, {unpaired['candidate_only']} only in the candidate)")


def counts(comparison: dict[str, Any]) -> str:
    if comparison["baseline"] is None:
        failed = sum(1 for item in comparison["items"] if item["verdict"] == "failed")
        return f"{len(comparison['items']) - failed} passed, {failed} failed"
    return (f"{len(comparison['regressed'])} regressed, {len(comparison['improved'])} improved, "
            f"{comparison['unchanged']} unchanged")


def worst_items(comparison: dict[str, Any]) -> list[dict[str, Any]]:
    """Regressions (or, alone, failures): the API lists them first."""
    return [item for item in comparison["items"] if item["verdict"] in ("regressed", "failed")]


def verdict_line(comparison: dict[str, Any]) -> str:
    failed = [check for check in comparison["checks"] if not check["passed"]]
    if not failed:
        return f"passed: all {len(comparison['checks'])} check(s) passed"
    return f"failed: {len(failed)} of {len(comparison['checks'])} check(s) failed"


# --- text -----------------------------------------------------------------------------------------


def render_text(comparison: dict[str, Any]) -> str:
    lines = [f"gate {'PASSED' if comparison['passed'] else 'FAILED'}: {heading(comparison)}",
             f"  {counts(comparison)}"]
    for metric, before, after, delta in metric_rows(comparison):
        values = f"{before} -> {after}" if comparison["baseline"] else after
        lines.append(f"  {metric:<24} {values}  {delta}".rstrip())
    lines += ["checks:"] + [f"  {'ok  ' if c['passed'] else 'FAIL'} {c['message']}" for c in comparison["checks"]]
    worst = worst_items(comparison)
    if worst:
        lines.append(f"{'regressions' if comparison['baseline'] else 'failures'} ({len(worst)}):")
        for item in worst[:MAX_LISTED]:
            lines += text_item(item)
        if len(worst) > MAX_LISTED:
            lines.append(f"  ... and {len(worst) - MAX_LISTED} more (--format json lists every item)")
    return "\n".join([*lines, f"verdict: {verdict_line(comparison)}"])


def text_item(item: dict[str, Any]) -> list[str]:
    lines = [f"  item {item['item_id']}: {clip(shown_input(item.get('input')))}"]
    if item["baseline"] is not None:
        lines.append(f"    baseline:  {clip(shown_answer(item['baseline']))}")
    return [*lines, f"    candidate: {clip(shown_answer(item['candidate']))}"]


# --- markdown -------------------------------------------------------------------------------------


def render_markdown(comparison: dict[str, Any]) -> str:
    mark = "✅" if comparison["passed"] else "❌"
    lines = [f"## {mark} llmpulse eval gate: {'passed' if comparison['passed'] else 'failed'}", "",
             escape(heading(comparison)) + ".", "", *markdown_table(comparison),
             "", "**Checks**", ""]
    lines += [f"- {'✅' if c['passed'] else '❌'} {escape(c['message'])}" for c in comparison["checks"]]
    lines += markdown_items(comparison)
    return "\n".join([*lines, "", f"**Verdict: {verdict_line(comparison)}**", ""])


def markdown_table(comparison: dict[str, Any]) -> list[str]:
    if comparison["baseline"] is None:
        rows = [f"| {m} | {after} |" for m, _, after, _ in metric_rows(comparison)]
        return [f"| | `{cell(comparison['candidate']['name'])}` |", "|---|---:|", *rows]
    header = (f"| | baseline `{cell(comparison['baseline']['name'])}` | candidate "
              f"`{cell(comparison['candidate']['name'])}` | change |")
    rows = [f"| {m} | {before} | {after} | {escape(delta)} |" for m, before, after, delta in metric_rows(comparison)]
    return [header, "|---|---:|---:|---|", f"| items | | {counts(comparison)} | |", *rows]


def markdown_items(comparison: dict[str, Any]) -> list[str]:
    worst = worst_items(comparison)
    if not worst:
        return []
    title = "Regressions" if comparison["baseline"] else "Failures"
    lines = ["", f"<details{' open' if len(worst) <= 10 else ''}><summary>{title} ({len(worst)})</summary>", ""]
    if comparison["baseline"]:
        lines += ["| item | input | baseline answer | candidate answer |", "|---|---|---|---|"]
        lines += [f"| {i['item_id']} | {cell(shown_input(i.get('input')))} | {cell(shown_answer(i['baseline']))} | "
                  f"{cell(shown_answer(i['candidate']))} |" for i in worst[:MAX_LISTED]]
    else:
        lines += ["| item | input | answer |", "|---|---|---|"]
        lines += [f"| {i['item_id']} | {cell(shown_input(i.get('input')))} | {cell(shown_answer(i['candidate']))} |"
                  for i in worst[:MAX_LISTED]]
    if len(worst) > MAX_LISTED:
        lines.append(f"\n…and {len(worst) - MAX_LISTED} more.")
    return [*lines, "", "</details>"]


# --- one experiment -------------------------------------------------------------------------------


def render_summary(experiment: dict[str, Any]) -> str:
    """GET /api/v1/experiments/<name> in a few lines."""
    why = f" ({experiment['reason']})" if experiment.get("reason") else ""
    target = experiment.get("target") or {}
    lines = [f"experiment {experiment['name']} on dataset {experiment['dataset']} version "
             f"{experiment['dataset_version']}: {experiment['status']}{why}"]
    if target.get("model"):
        lines.append(f"  target: {target['model']}" + (f" at {target['endpoint']}" if target.get("endpoint") else ""))
    done, total = progress(experiment)
    lines.append(f"  items: {done} of {total} done" + ("" if experiment.get("pass_rate") is None else
                 f", {experiment.get('passed')} passed, {experiment.get('errors')} errors"))
    if experiment.get("pass_rate") is not None:
        lines.append(f"  pass rate: {percent(experiment['pass_rate'])} (95% CI {percent(experiment.get('ci_low'))}"
                     f" to {percent(experiment.get('ci_high'))})")
    lines.append(f"  cost: {format_cost(experiment.get('cost_total'))} total; latency p50 "
                 f"{format_ms(experiment.get('latency_p50_ms'))}, p95 {format_ms(experiment.get('latency_p95_ms'))}")
    for name, score in (experiment.get("scores") or {}).items():
        lines.append(f"  {name}: mean {score['mean']:.3f} over {score['n']} item(s)")
    return "\n".join(lines)


def progress(experiment: dict[str, Any]) -> tuple[int, int]:
    """(items done, items total) of GET /api/v1/experiments/<name> (`progress`) or of a listing."""
    found = experiment.get("progress") or experiment
    return int(found.get("items_done") or 0), int(found.get("items_total") or 0)
