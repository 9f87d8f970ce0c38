"""Traces: a searchable, sortable, paginated list (one trace's view is trace_view.py)."""

from __future__ import annotations

from typing import Any

from dash import Dash, Input, Output, State, dcc, html

from dashboard.ui import format as fmt
from dashboard.ui.context import UiContext
from dashboard.ui.downloads import csv_href, csv_link, window_params
from dashboard.ui.filters import filter_bar
from dashboard.ui.pages.trace_view import signal_badges
from dashboard.ui.people_links import session_link, user_link
from dashboard.ui.urls import PageQuery, search_with
from schemas.clickhouse import queries
from schemas.clickhouse.rollup import rollup_span
from schemas.clickhouse.trace_preview import trace_previews

PAGE_SIZE = 50
TRACE_FILTERS = ("model", "service", "environment", "user", "session", "tag", "signal", "status")  # TraceFilter's
COLUMNS = (("start_time", "Time (UTC)"), ("name", "Name"), ("preview", "Question → answer"), ("models", "Model"),
           ("duration_ms", "Latency"),
           ("tokens", "Tokens"), ("cost", "Cost"), ("errors", "Status"), ("signals", "Signals"), ("user_id", "User"),
           ("session_id", "Session"))
PREVIEW_SHOWN = 80  # characters of the question and of the answer on a row; the cell's title holds more


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
        html.Td(signal_badges(r["signals"])), html.Td(user_link(query, r["user_id"], r["start_time"])),
        html.Td(session_link(query, r["session_id"], r["start_time"])),
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
