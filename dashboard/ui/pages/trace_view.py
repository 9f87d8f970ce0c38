"""One trace: a header with its totals, a span waterfall, and each span's fields, scores and messages.

The header's calls, tokens and cost are `trace_totals`, the figures GET /api/v1/traces/<id> answers
(twins merged as every total merges them), not a sum over the spans shown. Fields read through
`span_fields` (a label and a formatter per field); prompts and completions are rendered as text
children (Dash escapes them), never as HTML or markdown, so a hostile completion stays inert.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from dash import dcc, html

from dashboard.annotations import answer_text
from dashboard.api import assemble_spans, trace_scores
from dashboard.transcript import message_text
from dashboard.ui import format as fmt
from dashboard.ui.context import UiContext
from dashboard.ui.people_links import session_link, user_link
from dashboard.ui.span_fields import SPAN_TYPES, field_rows, tokens, usd_precise, usd_total
from dashboard.ui.span_to_dataset import add_form, dataset_options
from dashboard.ui.urls import PageQuery
from dashboard.ui.waterfall import CONFIG, waterfall_figure
from schemas import fields as f
from schemas.clickhouse import queries
from schemas.clickhouse.conversations import trace_totals

# How a failure signal (`schemas.fields.SIGNAL_FIELDS`) reads on a badge.
SIGNAL_LABELS = {"parse_failure": "parse failure", "refusal": "refusal", "truncated": "truncated",
                 "tool_error": "tool error"}


def detail(ctx: UiContext, query: PageQuery, trace_id: str) -> Any:
    trace_id = trace_id.lower()
    spans = queries.get_trace_spans(ctx.store, query.project, trace_id) if len(trace_id) == 32 else []
    if not spans:
        return html.Div([html.H1("Trace not found"), html.P(f"No trace {trace_id} in project {query.project!r}.")])
    starts = [span["start_time"] for span in spans]
    totals = trace_totals(ctx.store, query.project, trace_id, min(starts), max(starts))
    assembled = assemble_spans(spans, queries.get_trace_events(ctx.store, query.project, trace_id),
                               trace_scores(ctx.store, query.project, trace_id, spans))
    options = dataset_options(ctx, query.project)
    return html.Div([
        html.H1([_root(assembled)["name"], html.Span(f" trace {trace_id}", className="muted trace-id")]),
        dcc.Link("← all traces", href=query.link("/traces", span="")),
        trace_header(query, assembled, totals),
        dcc.Graph(figure=waterfall_figure(assembled), id="waterfall", config=CONFIG),
        html.Div([_span_panel(s, _add(ctx, query, s, options), query.raw.get("span") == s["span_id"])
                  for s in assembled], id="spans"),
    ], className="trace-view")


def trace_header(query: PageQuery, spans: list[dict[str, Any]], totals: dict[str, Any]) -> Any:
    """The trace at a glance: duration, calls, tokens, cost as tiles; who, where and when beneath."""
    root = _root(spans)
    first = min(datetime.fromisoformat(s["start_time"]) for s in spans)
    last = max(datetime.fromisoformat(s["end_time"]) for s in spans)
    errors = sum(1 for s in spans if s["status_code"] == "error")
    user, session = _first(spans, "user_id"), _first(spans, "session_id")
    tiles = (("duration", "Duration", fmt.ms((last - first).total_seconds() * 1000)),
             ("calls", "LLM calls", f"{totals['calls']:,}"),
             ("tokens-in", "Input tokens", tokens(totals["input_tokens"])),
             ("tokens-out", "Output tokens", tokens(totals["output_tokens"])),
             ("tokens-cached", "Cached input tokens", tokens(totals["cache_read_tokens"])),
             ("cost", "Cost", usd_total(totals["cost"])))
    facts = (("User", user_link(query, user, first, id="trace-user")),
             ("Session", session_link(query, session, first, id="trace-session")),
             ("Service", root["service_name"] or fmt.MISSING),
             ("Environment", root["environment"] or fmt.MISSING),
             ("Status", html.Span(f"{errors} failed span{'s' if errors != 1 else ''}" if errors else "ok",
                                  className="err" if errors else "ok", id="trace-status")),
             ("Started", fmt.when(first)),
             ("Spans", f"{len(spans):,}"))
    unpriced = totals["unpriced_calls"]
    return html.Div([
        html.Div([html.Div([html.Div(label, className="label"), html.Div(value, className="value")],
                           className="tile", id=f"trace-{key}") for key, label, value in tiles], className="tiles"),
        html.Div([html.Span([html.Span(label, className="label"), value], className="fact") for label, value in facts]
                 + ([html.Span(f"{unpriced} call{'s' if unpriced != 1 else ''} without a price", className="warn")]
                    if unpriced else []), className="facts"),
    ], className="trace-header", id="trace-header")


def _root(spans: list[dict[str, Any]]) -> dict[str, Any]:
    """The span with no parent in the trace (the earliest, if several or none)."""
    ids = {s["span_id"] for s in spans}
    roots = [s for s in spans if s["parent_span_id"] not in ids]
    return min(roots or spans, key=lambda s: s["start_time"])


def _first(spans: list[dict[str, Any]], field: str) -> str:
    return next((s[field] for s in spans if s.get(field)), "")


def _add(ctx: UiContext, query: PageQuery, span: dict[str, Any], options: list[dict[str, str]]) -> Any:
    """"Add to dataset" on an LLM span that has input messages to take."""
    if span["span_type"] != "llm" or not span["input_messages"]:
        return None
    return add_form(ctx, query.project, span["trace_id"], span["span_id"], answer_text(span), options)


def _span_panel(span: dict[str, Any], add: Any = None, picked: bool = False) -> Any:
    """One span's details; `picked` (the span a link named, `?span=`) is open and marked."""
    signals = [label for name, label in SIGNAL_LABELS.items() if span.get(name)]
    model = span.get("response_model") or span.get("request_model")
    summary = " · ".join([span["name"], SPAN_TYPES.get(span["span_type"], span["span_type"]),
                          *([model] if model else []), fmt.ms(span["duration_ms"])])
    return html.Details([
        html.Summary(summary + (f" · shadow of {span['shadow_of']} (the user never saw this answer)"
                                if span.get("shadow_of") else "") + "".join(f" · {label}" for label in signals)),
        add,
        _signals(span),
        _cost_comparison(span["cost_comparison"]),
        html.Table([html.Tr([html.Th(label), html.Td(value)]) for label, value in field_rows(span)]
                   + _status_message(span), className="fields"),
        _scores(span["scores"]),
        html.Div([message_turn(m) for m in span["input_messages"] + span["output_messages"]], className="chat"),
        html.Div([html.Div(message_text(d), className="document") for d in span["retrieval_documents"]]),
        html.Details([html.Summary("raw attributes"),
                      html.Pre("\n".join(f"{k} = {v}" for k, v in span["attributes"].items()), className="code")]),
    ], className="span-panel picked" if picked else "span-panel", id=f"span-{span['span_id']}",
        open=picked or span["span_type"] == "llm" or bool(span["scores"]) or bool(signals))


def _status_message(span: dict[str, Any]) -> list[Any]:
    message = span.get("status_message")
    return [html.Tr([html.Th("Error"), html.Td(message, className="err")])] if message else []


def signal_badges(names: list[str]) -> Any:
    return [html.Span(SIGNAL_LABELS.get(name, name), className=f"signal signal-{name}") for name in names]


def _signals(span: dict[str, Any]) -> Any:
    """The call's failure signals as badges; a parse failure says why (`llmpulse.parse_failure`)."""
    names = [name for name in SIGNAL_LABELS if span.get(name)]
    if not names:
        return None
    reason = span["attributes"].get(f.PARSE_FAILURE_ATTRIBUTE) if span.get(f.PARSE_FAILURE) else None
    return html.Div([*signal_badges(names), html.Span(reason, className="signal-reason") if reason else None],
                    className="signals", id=f"signals-{span['span_id']}")


def _scores(scores: list[dict[str, Any]]) -> Any:
    """Every score of the span, whoever gave it: a person's label, the app, the judge, the offline
    scorer, an experiment's checks; the reason says why."""
    if not scores:
        return None
    rows = [html.Tr([html.Td(s["scorer"]), html.Td(fmt.score(s["value"])),
                     html.Td(s["label"] or fmt.MISSING), html.Td(s["annotator"] or s["source"]),
                     html.Td(s["error"] or s["reason"] or "", className="reason")]) for s in scores]
    head = html.Tr([html.Th(name) for name in ("Scorer", "Value", "Label", "By", "Reason")])
    return html.Table([head, *rows], className="scores")


def _cost_comparison(comparison: dict[str, Any] | None) -> Any:
    """Both costs of a call whose app reported one that differs from ours by more than 1%, and which counts."""
    if comparison is None:
        return None
    reported_counts = comparison["counted"] == "reported"
    difference = comparison["difference_pct"]
    versus = "" if difference is None else f" ({difference:+.1f}% against llmpulse's price)"
    return html.Div([
        html.Strong("Two costs: "),
        html.Span(f"reported by the app {usd_precise(comparison['reported'])}{versus}"
                  + (" — counts" if reported_counts else ""), className="counted" if reported_counts else ""),
        html.Span(" · "),
        html.Span(f"llmpulse's price {usd_precise(comparison['computed'])}"
                  + ("" if reported_counts else " — counts"), className="" if reported_counts else "counted"),
    ], className="cost-comparison")


def message_turn(message: Any) -> Any:
    role = str(message.get("role", "")) if isinstance(message, dict) else ""
    flagged = isinstance(message, dict) and (message.get("is_error") or message.get("refusal"))
    marked = (" · failed tool result" if message.get("is_error") else " · refusal") if flagged else ""
    fields = message if isinstance(message, dict) else {}
    answers = f" · result of {fields['tool_call_id']}" if fields.get("tool_call_id") else ""
    calls = [_tool_call(call) for call in fields.get("tool_calls") or [] if isinstance(call, dict)]
    text = message_text(message)
    return html.Div([html.Div(role + answers + marked, className="role"),
                     html.Div(text, className="content") if text or not calls else None, *calls],
                    className=f"turn {role}" + (" failed" if marked else ""))


def _tool_call(call: dict[str, Any]) -> Any:
    """A tool the model asked for: an assistant turn that carries only calls would read as empty."""
    arguments = call.get("arguments")
    shown = arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)
    return html.Div([html.Span("calls ", className="role"), html.Code(f"{call.get('name') or '?'}({shown or ''})"),
                     html.Span(f" · {call['id']}", className="role") if call.get("id") else None],
                    className="tool-call")
