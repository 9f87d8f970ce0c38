"""Traces: a searchable, sortable, paginated list, and one trace as a span waterfall with its messages.

Prompts and completions are rendered as text children (Dash escapes them), never as HTML or
markdown, so a hostile completion stays inert.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dash import Dash, Input, Output, State, dcc, html

from dashboard.annotations import answer_text
from dashboard.api import assemble_spans, trace_scores
from dashboard.ui import charts
from dashboard.ui import format as fmt
from dashboard.ui.context import UiContext
from dashboard.ui.downloads import csv_href, csv_link, window_params
from dashboard.ui.filters import filter_bar
from dashboard.ui.span_to_dataset import add_form, dataset_options
from dashboard.ui.urls import PageQuery, search_with
from schemas import fields as f
from schemas.clickhouse import queries
from schemas.clickhouse.rollup import rollup_span
from schemas.clickhouse.trace_preview import trace_previews

PAGE_SIZE = 50
TRACE_FILTERS = ("model", "service", "environment", "user", "session", "tag", "signal", "status")  # TraceFilter's
COLUMNS = (("start_time", "Time (UTC)"), ("name", "Name"), ("preview", "Question → answer"), ("models", "Model"),
           ("duration_ms", "Latency"),
           ("tokens", "Tokens"), ("cost", "Cost"), ("errors", "Status"), ("signals", "Signals"), ("user_id", "User"),
           ("session_id", "Session"))
# How a failure signal (`schemas.fields.SIGNAL_FIELDS`) reads on a badge.
PREVIEW_SHOWN = 80  # characters of the question and of the answer on a row; the cell's title holds more
SIGNAL_LABELS = {"parse_failure": "parse failure", "refusal": "refusal", "truncated": "truncated",
                 "tool_error": "tool error"}


def layout(ctx: UiContext, query: PageQuery) -> Any:
    sort = query.raw.get("sort") if query.raw.get("sort") in queries.TRACE_SORTS else "start_time"
    page = max(int(query.raw.get("page", "1")) if query.raw.get("page", "1").isdigit() else 1, 1)
    status = query.raw.get("status") if query.raw.get("status") in ("ok", "error") else None
    flt = queries.TraceFilter(query.project, query.start, query.end, **query.filters, status=status,
                              text=_search_text(query) or None)
    result = queries.list_traces(ctx.store, flt, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, sort=sort,
                                 descending=query.raw.get("order", "desc") == "desc",
                                 count_long_windows=False)
    return html.Div([
        html.H1("Traces"),
        html.Div([dcc.Input(id="trace-search", type="search", value=_search_text(query), debounce=True,
                            placeholder="search prompts and completions…", className="search")], className="toolbar"),
        filter_bar(ctx, query, rollup_span(ctx.state), TRACE_FILTERS),
        csv_link(csv_href("/traces", {**window_params(query), "status": status, "q": _search_text(query), "sort": sort,
                                      "order": "asc" if query.raw.get("order") == "asc" else "desc"}),
                 "traces-csv", "the traces of this window and these filters, up to 10,000"),
        _table(result["traces"], trace_previews(ctx.store, query.project, result["traces"]), query),
        _pager(result["total"], len(result["traces"]), page, query),
    ])


def register(app: Dash, ctx: UiContext) -> None:
    @app.callback(Output("url", "search", allow_duplicate=True), Input("trace-search", "value"),
                  State("url", "search"), prevent_initial_call=True)
    def search(text: str | None, current: str | None) -> str:
        return search_with(current, {"q": text or ""}, resets=("page", "text"))


def _search_text(query: PageQuery) -> str:
    """The search: `q`, as in the API; `text` (the API's alias) is read too, so either link works."""
    return query.raw.get("q") or query.raw.get("text", "")


def _table(rows: list[dict[str, Any]], previews: dict[str, tuple[str, str]], query: PageQuery) -> Any:
    head = html.Tr([html.Th(dcc.Link(label, href=query.link("/traces", sort=key, order=_flip(query, key))))
                    if key in queries.TRACE_SORTS else html.Th(label) for key, label in COLUMNS])
    body = [html.Tr([
        html.Td(dcc.Link(fmt.when(r["start_time"], zone=False), href=query.link(f"/traces/{r['trace_id']}")),
                className="nowrap"),
        html.Td(r["name"]), _preview(previews.get(r["trace_id"], ("", ""))), html.Td(", ".join(r["models"])),
        html.Td(fmt.ms(r["duration_ms"]), className="nowrap"),
        html.Td(fmt.tokens(r["tokens"])), html.Td(fmt.usd(r["cost"])),
        html.Td("error" if r["errors"] else "ok", className="err" if r["errors"] else "ok"),
        html.Td(_badges(r["signals"])), html.Td(r["user_id"]), html.Td(r["session_id"]),
    ], className="trace-row") for r in rows]
    if not rows:
        body = [html.Tr(html.Td("No traces match.", colSpan=len(COLUMNS)))]
    return html.Table([html.Thead(head), html.Tbody(body)], className="table", id="trace-table")


def _preview(texts: tuple[str, str]) -> Any:
    """The first question over the last answer, each cut to a line; as text children, so Dash escapes them."""
    question, answer = texts
    return html.Td([html.Div(_cut(question), className="preview-q"), html.Div(_cut(answer), className="preview-a")],
                   className="preview", title=f"{question}\n→ {answer}" if question or answer else None)


def _cut(text: str) -> str:
    return text if len(text) <= PREVIEW_SHOWN else text[:PREVIEW_SHOWN - 1].rstrip() + "…"


def _flip(query: PageQuery, key: str) -> str:
    same = query.raw.get("sort", "start_time") == key
    return "asc" if same and query.raw.get("order", "desc") == "desc" else "desc"


def _pager(total: int | None, shown: int, page: int, query: PageQuery) -> Any:
    """A long window's newest traces are not counted (schemas.clickhouse.trace_page): the pager then offers
    older pages for as long as a page comes back full."""
    if total is None:
        more = shown == PAGE_SIZE
        label = f"page {page} · newest first, not counted over this range (narrow it or filter for a count)"
    else:
        pages = max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
        more = page < pages
        label = f"page {page} of {pages:,} · {total:,} traces"
    links = [dcc.Link("← newer", href=query.link("/traces", page=str(page - 1))) if page > 1 else html.Span(),
             html.Span(label, id="trace-count"),
             dcc.Link("older →", href=query.link("/traces", page=str(page + 1))) if more else html.Span()]
    return html.Div(links, className="pager")


def detail(ctx: UiContext, query: PageQuery, trace_id: str) -> Any:
    trace_id = trace_id.lower()
    spans = queries.get_trace_spans(ctx.store, query.project, trace_id) if len(trace_id) == 32 else []
    if not spans:
        return html.Div([html.H1("Trace not found"), html.P(f"No trace {trace_id} in project {query.project!r}.")])
    assembled = assemble_spans(spans, queries.get_trace_events(ctx.store, query.project, trace_id),
                               trace_scores(ctx.store, query.project, trace_id, spans))
    options = dataset_options(ctx, query.project)
    return html.Div([
        html.H1(f"Trace {trace_id}"), dcc.Link("← all traces", href=query.link("/traces")),
        dcc.Graph(figure=_waterfall(assembled), id="waterfall", config={"displaylogo": False}),
        html.Div([_span_panel(s, _add(ctx, query, s, options), query.raw.get("span") == s["span_id"])
                  for s in assembled], id="spans"),
    ])


def _add(ctx: UiContext, query: PageQuery, span: dict[str, Any], options: list[dict[str, str]]) -> Any:
    """"Add to dataset" on an LLM span that has input messages to take."""
    if span["span_type"] != "llm" or not span["input_messages"]:
        return None
    return add_form(ctx, query.project, span["trace_id"], span["span_id"], answer_text(span), options)


def _depths(spans: list[dict[str, Any]]) -> dict[str, int]:
    parents = {s["span_id"]: s["parent_span_id"] for s in spans}
    depth: dict[str, int] = {}
    for span_id in parents:
        d, cursor = 0, parents.get(span_id)
        while cursor in parents and d < 50:
            d, cursor = d + 1, parents.get(cursor)
        depth[span_id] = d
    return depth


def _waterfall(spans: list[dict[str, Any]]) -> Any:
    start = min(datetime.fromisoformat(s["start_time"]) for s in spans)
    depth = _depths(spans)
    labels = [("\u00a0\u00a0" * depth[s["span_id"]]) + s["name"] for s in spans]  # non-breaking: plotly trims spaces
    offsets = [(datetime.fromisoformat(s["start_time"]) - start).total_seconds() * 1000 for s in spans]
    colors = ["#ef4444" if s["status_code"] == "error" else "#6366f1" if s["span_type"] == "llm" else "#22c55e"
              for s in spans]
    bars = {"type": "bar", "orientation": "h", "y": labels, "x": [max(s["duration_ms"], 0.5) for s in spans],
            "base": offsets, "marker": {"color": colors},
            "hovertext": [f"{s['span_type']} · {fmt.ms(s['duration_ms'])}" for s in spans]}
    return charts.figure([bars], height=80 + 28 * len(spans), xaxis={"title": {"text": "ms since trace start"}},
                         yaxis={"autorange": "reversed"}, margin={"l": 200, "r": 10, "t": 10, "b": 40})


def _span_panel(span: dict[str, Any], add: Any = None, picked: bool = False) -> Any:
    """One span's details; `picked` (the span a link named, `?span=`) is open and marked."""
    fields = ("span_type", "provider", "request_model", "response_model", "input_tokens", "output_tokens",
              "cache_read_tokens", "ttft_ms", "cost_total", "cost_source", "status_code", "finish_reasons")
    signals = [label for name, label in SIGNAL_LABELS.items() if span.get(name)]
    return html.Details([
        html.Summary(f"{span['name']} · {span['span_type']} · {fmt.ms(span['duration_ms'])}"
                     + (f" · shadow of {span['shadow_of']} (the user never saw this answer)"
                        if span.get("shadow_of") else "") + "".join(f" · {label}" for label in signals)),
        add,
        _signals(span),
        _cost_comparison(span["cost_comparison"]),
        html.Table([html.Tr([html.Th(name), html.Td(_field_text(span, name))]) for name in fields], className="fields"),
        _scores(span["scores"]),
        html.Div([_turn(m) for m in span["input_messages"] + span["output_messages"]], className="chat"),
        html.Div([html.Div(str(d.get("content", d)), className="document") for d in span["retrieval_documents"]]),
        html.Details([html.Summary("attributes"),
                      html.Pre("\n".join(f"{k} = {v}" for k, v in span["attributes"].items()), className="code")]),
    ], className="span-panel picked" if picked else "span-panel", id=f"span-{span['span_id']}",
        open=picked or span["span_type"] == "llm" or bool(span["scores"]) or bool(signals))


def _badges(names: list[str]) -> Any:
    return [html.Span(SIGNAL_LABELS.get(name, name), className=f"signal signal-{name}") for name in names]


def _signals(span: dict[str, Any]) -> Any:
    """The call's failure signals as badges; a parse failure says why (`llmpulse.parse_failure`)."""
    names = [name for name in SIGNAL_LABELS if span.get(name)]
    if not names:
        return None
    reason = span["attributes"].get(f.PARSE_FAILURE_ATTRIBUTE) if span.get(f.PARSE_FAILURE) else None
    return html.Div([*_badges(names), html.Span(reason, className="signal-reason") if reason else None],
                    className="signals", id=f"signals-{span['span_id']}")


def _scores(scores: list[dict[str, Any]]) -> Any:
    """Every score of the span, whoever gave it: a person's label, the app, the judge, the offline
    scorer, an experiment's checks; the reason says why."""
    if not scores:
        return None
    rows = [html.Tr([html.Td(s["scorer"]), html.Td(fmt.MISSING if s["value"] is None else f"{s['value']:g}"),
                     html.Td(s["label"] or ""), html.Td(s["annotator"] or s["source"]),
                     html.Td(s["error"] or s["reason"] or "", className="reason")]) for s in scores]
    head = html.Tr([html.Th(name) for name in ("scorer", "value", "label", "by", "reason")])
    return html.Table([head, *rows], className="scores")


def _field_text(span: dict[str, Any], field: str) -> str:
    """A NULL count is one the collector refused (collector/counts.py): say so, with its reason."""
    value = span.get(field)
    if value is not None:
        return str(value)
    refused = span["attributes"].get(f.REFUSED_ATTRIBUTE) if field.endswith("_tokens") else None
    return f"refused: {refused}" if refused else fmt.MISSING


def _cost_comparison(comparison: dict[str, Any] | None) -> Any:
    """Both costs of a call whose app reported one that differs from ours by more than 1%, and which counts."""
    if comparison is None:
        return None
    reported_counts = comparison["counted"] == "reported"
    difference = comparison["difference_pct"]
    versus = "" if difference is None else f" ({difference:+.1f}% against llmpulse's price)"
    return html.Div([
        html.Strong("Two costs: "),
        html.Span(f"reported by the app {_call_usd(comparison['reported'])}{versus}"
                  + (" — counts" if reported_counts else ""), className="counted" if reported_counts else ""),
        html.Span(" · "),
        html.Span(f"llmpulse's price {_call_usd(comparison['computed'])}"
                  + ("" if reported_counts else " — counts"), className="" if reported_counts else "counted"),
    ], className="cost-comparison")


def _call_usd(value: float) -> str:
    """One call's cost to six significant digits: two costs 1% apart must not look the same."""
    return f"${value:,.6g}"


def _turn(message: dict[str, Any]) -> Any:
    role = str(message.get("role", ""))
    content = message.get("content")
    if content is None and isinstance(message.get("parts"), list):
        content = "\n".join(str(p.get("content", "")) for p in message["parts"] if isinstance(p, dict))
    marked = " · failed tool result" if message.get("is_error") else " · refusal" if message.get("refusal") else ""
    return html.Div([html.Div(role + marked, className="role"), html.Div(str(content or ""), className="content")],
                    className=f"turn {role}" + (" failed" if marked else ""))
