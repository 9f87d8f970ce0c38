"""A trace's spans as a waterfall: one bar per span, indented under its parent, coloured by span type.

Rows are numbered (y = row index, labels as tick text), not named: two spans of one name and depth
would otherwise share a row. Each span type is its own bar trace, so the legend names the colours;
a failed span keeps its type's colour under a red outline (its own legend entry) and says "error"
on its bar. A streamed
call's time to first token is a tick on its bar.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dashboard.ui import charts
from dashboard.ui import format as fmt
from dashboard.ui.span_fields import SPAN_TYPES
from schemas import fields as f

TYPE_COLORS = {f.TYPE_LLM: "#6366f1", f.TYPE_EMBEDDING: "#06b6d4", f.TYPE_RETRIEVAL: "#f59e0b",
               f.TYPE_TOOL: "#22c55e", f.TYPE_AGENT: "#ec4899", f.TYPE_CHAIN: "#94a3b8", f.TYPE_OTHER: "#64748b"}
ERROR_COLOR, TTFT_COLOR = "#ef4444", "#fde047"
ROW_PX, LABEL_CHARS, INDENT = 26, 44, "\u00a0\u00a0\u00a0"  # non-breaking: plotly trims plain spaces
CONFIG = {"displayModeBar": False}  # no toolbar over the bars


def depths(spans: list[dict[str, Any]]) -> dict[str, int]:
    """Each span's depth under its trace's root; a parent that never arrived counts as a root."""
    parents = {s["span_id"]: s["parent_span_id"] for s in spans}
    depth: dict[str, int] = {}
    for span_id in parents:
        d, cursor = 0, parents.get(span_id)
        while cursor in parents and d < 50:
            d, cursor = d + 1, parents.get(cursor)
        depth[span_id] = d
    return depth


def tree_order(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Spans depth-first, each parent followed by its children by start time, so indentation reads as a tree."""
    ids = {s["span_id"] for s in spans}
    children: dict[str, list[dict[str, Any]]] = {}
    for span in sorted(spans, key=lambda s: (s["start_time"], s["span_id"])):
        parent = span["parent_span_id"] if span["parent_span_id"] in ids else ""
        children.setdefault(parent, []).append(span)
    ordered: list[dict[str, Any]] = []
    stack = list(reversed(children.get("", [])))
    while stack:
        span = stack.pop()
        ordered.append(span)
        stack.extend(reversed(children.get(span["span_id"], [])))
    seen = {s["span_id"] for s in ordered}
    return ordered + [s for s in spans if s["span_id"] not in seen]  # a parent cycle: shown at the end


def waterfall_figure(spans: list[dict[str, Any]]) -> dict[str, Any]:
    rows = tree_order(spans)
    start = min(datetime.fromisoformat(s["start_time"]) for s in rows)
    offsets = [(datetime.fromisoformat(s["start_time"]) - start).total_seconds() * 1000 for s in rows]
    labels = tree_labels(rows)
    traces = [_type_bars(rows, offsets, kind) for kind in TYPE_COLORS if any(_kind(s) == kind for s in rows)]
    marks = [mark for mark in (_failed_bars(rows, offsets), _ttft_marks(rows, offsets)) if mark]
    longest = max(len(label) for label in labels)
    return charts.figure(
        [*traces, *marks], height=90 + ROW_PX * len(rows), barmode="overlay", bargap=0.35,
        xaxis={"title": {"text": "ms since the trace started"}, "rangemode": "tozero", "zeroline": False,
               "tickformat": ","},  # 1,000 ms, as every duration on the page is written
        yaxis={"tickvals": list(range(len(rows))), "ticktext": labels, "autorange": "reversed",
               "tickfont": {"family": "ui-monospace, monospace", "size": 12}},
        legend={"orientation": "h", "x": 0, "y": 1.0, "yanchor": "bottom", "font": {"size": 12}},
        margin={"l": min(30 + 8 * longest, 400), "r": 90, "t": 36, "b": 44}, hovermode="closest")


def tree_labels(rows: list[dict[str, Any]]) -> list[str]:
    """Names indented by depth under a tree mark, padded to one width: plotly right-aligns tick
    labels, so only equal widths (in the monospace font) keep the indentation visible."""
    depth = depths(rows)
    labels = [(INDENT * (depth[s["span_id"]] - 1) + "\u2514\u00a0" if depth[s["span_id"]] else "")
              + _short(s["name"], LABEL_CHARS - 3 * depth[s["span_id"]]) for s in rows]
    width = max(len(label) for label in labels)
    return [label + "\u00a0" * (width - len(label) + 2) for label in labels]  # +2: clear of the bars


def _kind(span: dict[str, Any]) -> str:
    return span["span_type"] if span["span_type"] in TYPE_COLORS else f.TYPE_OTHER


def _type_bars(rows: list[dict[str, Any]], offsets: list[float], kind: str) -> dict[str, Any]:
    picked = [i for i, s in enumerate(rows) if _kind(s) == kind]
    return {
        "type": "bar", "orientation": "h", "name": SPAN_TYPES.get(kind, kind), "y": picked,
        "x": [max(rows[i]["duration_ms"], 0.5) for i in picked], "base": [offsets[i] for i in picked],
        "marker": {"color": TYPE_COLORS[kind]},
        "text": [fmt.ms(rows[i]["duration_ms"]) + (" · error" if rows[i]["status_code"] == "error" else "")
                 for i in picked],
        "textposition": "outside", "cliponaxis": False, "textfont": {"size": 11, "color": "#e5e7eb"},
        "hovertext": [_hover(rows[i]) for i in picked], "hoverinfo": "text",
    }


def _failed_bars(rows: list[dict[str, Any]], offsets: list[float]) -> dict[str, Any] | None:
    """A red outline over each failed span's bar, a trace of its own so the legend names it."""
    failed = [i for i, s in enumerate(rows) if s["status_code"] == "error"]
    if not failed:
        return None
    return {"type": "bar", "orientation": "h", "name": "failed", "y": failed,
            "x": [max(rows[i]["duration_ms"], 0.5) for i in failed], "base": [offsets[i] for i in failed],
            "marker": {"color": "rgba(0,0,0,0)", "line": {"color": ERROR_COLOR, "width": 3}}, "hoverinfo": "skip"}


def _ttft_marks(rows: list[dict[str, Any]], offsets: list[float]) -> dict[str, Any] | None:
    marked = [i for i, s in enumerate(rows) if s.get(f.TTFT_MS) is not None]
    if not marked:
        return None
    return {"type": "scatter", "mode": "markers", "name": "first token", "y": marked,
            "x": [offsets[i] + rows[i][f.TTFT_MS] for i in marked],
            "marker": {"symbol": "line-ns-open", "size": 18, "color": TTFT_COLOR, "line": {"width": 3}},
            "hovertext": [f"first token after {fmt.ms(rows[i][f.TTFT_MS])}" for i in marked], "hoverinfo": "text"}


def _hover(span: dict[str, Any]) -> str:
    parts = [span["name"], SPAN_TYPES.get(span["span_type"], span["span_type"]), fmt.ms(span["duration_ms"])]
    if span.get("request_model"):
        parts.append(span["request_model"])
    if span["status_code"] == "error":
        parts.append("error")
    return " · ".join(parts)


def _short(name: str, limit: int) -> str:
    limit = max(limit, 12)
    return name if len(name) <= limit else name[:limit - 1] + "\u2026"
