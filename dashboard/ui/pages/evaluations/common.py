"""What the Evaluations pages share: their links, the sub-navigation, texts clipped for a table,
a pass rate with its interval, an experiment's status.

Every text that came from a dataset, an app or a model (inputs, answers, reasons, names) is a
Dash text child or a `title` attribute, which React escapes: never markdown or raw HTML.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, unquote

from dash import dcc, html

from dashboard.ui import format as fmt
from dashboard.ui.urls import PageQuery

ROOT = "/evaluations"
DATASETS, EXPERIMENTS, COMPARE = f"{ROOT}/datasets", f"{ROOT}/experiments", f"{ROOT}/compare"
COHORTS, SHADOW = f"{ROOT}/ab", f"{ROOT}/shadow"  # live traffic: A/B cohorts and shadow pairs
# Parameters that belong to one Evaluations view: a link to another view drops them, so the
# version picked on one dataset's page never selects a version of the next dataset opened.
VIEW_PARAMS = ("version", "dataset", "baseline", "candidate", "experiment", "attribute", "a", "b", "span")
ANNOTATE = "/annotate"  # the labelling queue: part of the section, at the short path it always had
TABS = ((DATASETS, "Datasets"), (EXPERIMENTS, "Experiments"), (COMPARE, "Compare"), (COHORTS, "A/B"),
        (SHADOW, "Shadow"), (ANNOTATE, "Annotate"))
PREVIEW = 140  # characters of a text shown in a table cell before "more"


def link(query: PageQuery, path: str, **params: str) -> str:
    """`path` with the project and time range kept and every other view's parameters dropped."""
    return query.link(path, **{**dict.fromkeys(VIEW_PARAMS, ""), **params})


def dataset_path(name: str) -> str:
    return f"{DATASETS}/{quote(name, safe='')}"


def experiment_path(name: str) -> str:
    return f"{EXPERIMENTS}/{quote(name, safe='')}"


def name_in(path: str, prefix: str) -> str:
    """The name after `prefix/` in a path, as typed (names are quoted in links)."""
    return unquote(path[len(prefix) + 1:])


def subnav(query: PageQuery, active: str) -> Any:
    return html.Nav([dcc.Link(label, href=link(query, path), className="active" if path == active else "")
                     for path, label in TABS], className="evals-tabs", id="evals-tabs")


def text_of(value: Any) -> str:
    """An item's input as one text: chat messages as `role: content` lines."""
    if isinstance(value, list):
        return "\n".join(f"{m.get('role', '')}: {m.get('content', '')}" if isinstance(m, dict) else str(m)
                         for m in value)
    return "" if value is None else str(value)


def clipped(value: Any, class_name: str = "evals-text") -> Any:
    """A text cell: short texts whole; a long one clipped, with the whole text one click away."""
    text = text_of(value)
    if not text:
        return html.Span(fmt.MISSING, className="muted")
    if len(text) <= PREVIEW:
        return html.Div(text, className=class_name)
    return html.Details([html.Summary(text[:PREVIEW] + "…"), html.Div(text, className=class_name)],
                        className="evals-more")


def compact_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": ")) if value else ""


# How each assertion kind (`schemas.dataset_items.ASSERTION_KINDS`) reads in the item table.
ASSERTION_NAMES = {"must_contain": "must contain", "must_not_contain": "must not contain", "regex": "matches"}


def assertion_lines(assertions: dict[str, Any] | None) -> list[str]:
    """An item's checks as a person states them ('must contain "30 days", "14 days"'), one per line;
    a JSON Schema stays JSON, clipped: it is a document, not a sentence."""
    lines = []
    for kind, spec in (assertions or {}).items():
        if kind in ("must_contain", "must_not_contain"):
            texts = spec if isinstance(spec, list) else [spec]
            lines.append(f"{ASSERTION_NAMES[kind]} " + ", ".join(f"\u201c{t}\u201d" for t in texts))
        elif kind == "regex":
            lines.append(f"matches /{spec}/")
        elif kind == "valid_json":
            lines.append("is valid JSON" if spec else "need not be JSON")
        elif kind == "json_schema":
            schema = compact_json(spec)
            lines.append("matches the JSON Schema " + (schema if len(schema) <= 80 else schema[:79] + "\u2026"))
        else:
            lines.append(f"{kind}: {compact_json(spec)}")
    return lines


def interval(low: float | None, high: float | None) -> str:
    return fmt.MISSING if low is None or high is None else f"{fmt.pct(low)} to {fmt.pct(high)}"


def pass_rate_text(summary: dict[str, Any] | None) -> str:
    """"80.0% (95%: 62.1% to 91.0%)", or a dash before anything is scored."""
    if not summary or summary.get("pass_rate") is None:
        return fmt.MISSING
    return f"{fmt.pct(summary['pass_rate'])} (95%: {interval(summary['ci_low'], summary['ci_high'])})"


def status_cell(experiment: dict[str, Any]) -> Any:
    """The status; a running experiment's progress as a bar and `done / total`."""
    status, done, total = experiment["status"], experiment["items_done"], experiment["items_total"]
    if status != "running":
        return html.Span(status, className=f"evals-status {status}", title=experiment.get("reason") or None)
    share = done / total if total else 0.0
    return html.Span([html.Span("running", className="evals-status running"),
                      html.Span(html.Span(style={"width": f"{share * 100:.0f}%"}), className="evals-bar"),
                      html.Span(f"{done} / {total}", className="muted")], className="evals-progress")


def finished(experiment: dict[str, Any]) -> bool:
    """A summary is computed only from a finished experiment (schemas.metadata.experiments)."""
    return experiment["status"] != "running"


def tile(label: str, value: Any, tile_id: str, note: Any = "") -> Any:
    parts = [html.Div(label, className="label"), html.Div(value, className="value")]
    return html.Div(parts + ([html.Div(note, className="muted")] if note else []), className="tile", id=tile_id)


def empty(text: Any, element_id: str) -> Any:
    return html.Div(text, className="evals-empty", id=element_id)
