"""Annotate: the annotation queue, one thing at a time. A sampled or flagged LLM span shows its
question, its context and its answer with the verdicts it has; a person marks it correct,
incorrect or unsure (keys c, i, u), may write a comment and the right answer, and may send it to
a dataset (key d: as correct, or, with a right answer written, as incorrect with that answer as
the expected output). A dataset's items without an expected output come up the same way, for
the right answer to be written (key d saves it). Then the next one.

Labels go through `dashboard.annotations`, as the API's do. Skipped entries are remembered in
the browser for the visit, so "skip" moves on without labelling. Texts are Dash text children
(escaped); the keys are dashboard/ui/assets/annotate.js, which clicks these buttons.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from dash import Dash, Input, Output, State, dcc, html, no_update
from dash import ctx as callback_ctx

from dashboard.annotations import found, queue, save_label
from dashboard.api_annotations import annotator
from dashboard.params import ApiError
from dashboard.ui import format as fmt
from dashboard.ui.context import UiContext
from dashboard.ui.forms import error, ok, read_only, refused
from dashboard.ui.pages.evaluations.common import ANNOTATE, subnav
from dashboard.ui.span_to_dataset import dataset_options
from dashboard.ui.urls import PageQuery, parse_query, search_with
from schemas.clickhouse.annotations import Label
from schemas.metadata.datasets import DatasetStore

KINDS = (("sampled", "Sampled spans"), ("flagged", "Flagged spans"), ("dataset", "Dataset items without expected"))
LABEL_BUTTONS = (("correct", "Correct", "c"), ("incorrect", "Incorrect", "i"), ("unsure", "Unsure", "u"))
QUEUE_DAYS = 30  # the window when the URL names none: a queue is older than a day's traffic
ADMIN_ONLY = "Sending to a dataset needs the admin role; label without it, or ask an admin."
EXPECTED_ADMIN_ONLY = "Writing an item's expected answer needs the admin role."


def layout(ctx: UiContext, query: PageQuery) -> Any:
    kind = query.raw.get("kind") if query.raw.get("kind") in dict(KINDS) else "sampled"
    options = dataset_options(ctx, query.project)
    entry, note = next_entry(ctx, query, [])
    viewer = refused(ctx)
    return html.Div([
        html.H1("Annotate"),
        subnav(query, ANNOTATE),
        html.Div([dcc.Link(label, href=query.link("/annotate", kind=key), id=f"annotate-kind-{key}",
                           className="active" if key == kind else "") for key, label in KINDS],
                 className="annotate-kinds"),
        _queue_dataset(query, options) if kind == "dataset" else None,
        html.P(f"Oldest first, over the last {QUEUE_DAYS} days unless you pick a range. Keys: c correct · "
               "i incorrect · u unsure · s skip" + ("" if viewer else " · d send to dataset (as correct, or as "
                                                    "incorrect with the right answer you wrote as its expected "
                                                    "output)") + ".", className="muted"),
        html.Div([html.Span("Send to", className="muted"),
                  dcc.Dropdown(id="annotate-dataset", options=options, value=query.raw.get("dataset") or None,
                               placeholder="pick a dataset…", className="annotate-dataset")],
                 className="annotate-send-to",
                 style={"display": "none"} if viewer or kind == "dataset" else None),
        read_only(EXPECTED_ADMIN_ONLY if kind == "dataset" else ADMIN_ONLY, "annotate-read-only") if viewer else None,
        html.Div(id="annotate-message", className="message"),
        html.Div(card(entry, note, not viewer), id="annotate-card"),
        dcc.Store(id="annotate-current", data=entry_key(entry)),
        dcc.Store(id="annotate-skipped", data=[]),
    ], className="annotate evals")


def _queue_dataset(query: PageQuery, options: list[dict[str, str]]) -> Any:
    return html.Div([html.Span("Items of", className="muted"),
                     dcc.Dropdown(id="annotate-queue-dataset", options=options, value=query.raw.get("dataset"),
                                  placeholder="pick a dataset", clearable=False, className="annotate-dataset")],
                    className="annotate-send-to")


def next_entry(ctx: UiContext, query: PageQuery, skipped: list[Any]) -> tuple[dict[str, Any] | None, str]:
    """The oldest entry not labelled and not skipped, or None with the reason there is none."""
    kind = query.raw.get("kind") if query.raw.get("kind") in dict(KINDS) else "sampled"
    dataset = query.raw.get("dataset") if kind == "dataset" else None
    if kind == "dataset" and not dataset:
        return None, "Pick a dataset: its items without an expected output come up here."
    custom = query.raw.get("range") or query.raw.get("from") or query.raw.get("to")
    window = (query.start, query.end) if custom else (query.end - timedelta(days=QUEUE_DAYS), query.end)
    try:
        entries = queue(ctx.store, DatasetStore(ctx.metadata), query.project, kind, window,
                        min(len(skipped) + 1, 100), dataset)
    except ApiError as exc:
        return None, exc.message
    fresh = [e for e in entries if entry_key(e) not in skipped]
    if fresh:
        return fresh[0], ""
    if skipped:
        return None, f"Nothing left but the {len(skipped)} you skipped: reload the page to see them again."
    return None, "Nothing left to label here."


def entry_key(entry: dict[str, Any] | None) -> Any:
    if entry is None:
        return None
    if entry["kind"] == "dataset":
        return {"kind": "dataset", "dataset": entry["dataset"], "item": entry["item"]["id"]}
    return {"kind": entry["kind"], "trace_id": entry["trace_id"], "span_id": entry["span_id"]}


def card(entry: dict[str, Any] | None, note: str, may_send: bool = True) -> Any:
    """The entry, its text boxes and the buttons; the boxes and buttons are there even when the queue
    is empty (hidden), since the callback reads them. Without `may_send` (a viewer) what only changes a
    dataset hides too: the send button, and a dataset item's answer box."""
    spans = entry is not None and entry["kind"] != "dataset"
    boxes = [dcc.Textarea(id="annotate-answer", placeholder="the right answer (optional)", className="annotate-box",
                          hidden=entry is None or not (spans or may_send)),
             dcc.Textarea(id="annotate-comment", placeholder="comment (optional)", className="annotate-box",
                          hidden=not spans)]
    if entry is None:
        body: Any = html.P(note, id="annotate-empty", className="muted")
    else:
        body = _span_body(entry) if spans else _item_body(entry)
    return html.Div([body, html.Div(boxes, className="annotate-boxes"), _buttons(entry, may_send)],
                    className="annotate-entry")


def _buttons(entry: dict[str, Any] | None, may_send: bool) -> Any:
    """Every button is always there (a callback's inputs must exist); those that do not apply hide."""
    spans = entry is not None and entry["kind"] != "dataset"
    labels = [html.Button(f"{text} ({key})", id=f"annotate-{name}", className=f"button label-{name}",
                          hidden=not spans) for name, text, key in LABEL_BUTTONS]
    send = "Save expected answer (d)" if entry is not None and entry["kind"] == "dataset" else "Send to dataset (d)"
    return html.Div([*labels, html.Button(send, id="annotate-send", className="button secondary",
                                          hidden=entry is None or not may_send),
                     html.Button("Skip (s)", id="annotate-skip", className="button secondary", hidden=entry is None)],
                    className="annotate-buttons")


def _span_body(entry: dict[str, Any]) -> Any:
    head = html.Div([html.Span(fmt.when(entry["span_time"])), html.Span(entry["model"]),
                     dcc.Link("open trace", href=f"/traces/{entry['trace_id']}")], className="annotate-head")
    question = [_turn(m["role"], m["content"]) for m in entry["input"]]
    context = [html.Div(text, className="document") for text in entry["context"]]
    return html.Div([
        head, html.H3("Question"), html.Div(question, className="chat", id="annotate-question"),
        html.H3("Context") if context else None, html.Div(context, id="annotate-context"),
        html.H3("Answer"), html.Div(entry["answer"] or fmt.MISSING, className="annotate-answer-text",
                                    id="annotate-answer-text"),
        html.H3("Verdicts"), html.Ul([_verdict(v) for v in entry["verdicts"]] or [html.Li("none yet")],
                                     id="annotate-verdicts"),
    ])


def _turn(role: str, content: str) -> Any:
    text = html.Div(content, className="content") if content else html.Div("(no text)", className="muted")
    return html.Div([html.Div(role, className="role"), text], className=f"turn {role}")


def _verdict(verdict: dict[str, Any]) -> Any:
    score = "" if verdict["score"] is None else f" · {verdict['score']:.2f}"
    who = f" by {verdict['annotator']}" if verdict["annotator"] else ""
    flag = {True: "hallucinated", False: "not hallucinated", None: "no verdict"}[verdict["hallucinated"]]
    return html.Li([html.Strong(f"{verdict['scorer']}{who}: "), f"{verdict['label'] or flag}{score}",
                    html.Span(f" — {verdict['reason']}" if verdict["reason"] else "", className="muted")])


def _item_body(entry: dict[str, Any]) -> Any:
    item = entry["item"]
    turns = item["input"] if isinstance(item["input"], list) else [{"role": "user", "content": item["input"]}]
    question = [_turn(m["role"], m["content"]) for m in turns]
    return html.Div([html.Div(f"{entry['dataset']} · item {item['id']}", className="annotate-head"),
                     html.H3("Input"), html.Div(question, className="chat", id="annotate-question")])


def register(app: Dash, ctx: UiContext) -> None:
    @app.callback(Output("url", "search", allow_duplicate=True), Input("annotate-queue-dataset", "value"),
                  State("url", "search"), prevent_initial_call=True)
    def pick_queue_dataset(dataset: str | None, current: str | None) -> str:
        return search_with(current, {"dataset": dataset or ""})

    @app.callback(Output("annotate-message", "children"), Output("annotate-card", "children"),
                  Output("annotate-current", "data"), Output("annotate-skipped", "data"),
                  *[Input(f"annotate-{name}", "n_clicks") for name in ("correct", "incorrect", "unsure", "send",
                                                                       "skip")],
                  State("annotate-current", "data"), State("annotate-comment", "value"),
                  State("annotate-answer", "value"), State("annotate-dataset", "value"),
                  State("annotate-skipped", "data"), State("url", "search"), prevent_initial_call=True)
    def act(*values: Any) -> tuple[Any, Any, Any, Any]:
        current, comment, answer, dataset, skipped, search = values[5:]
        action = str(callback_ctx.triggered_id or "").removeprefix("annotate-")
        if not action or not callback_ctx.triggered[0]["value"]:
            return no_update, no_update, no_update, no_update
        if action == "send" and refused(ctx):
            return error(ADMIN_ONLY, "annotate-error"), no_update, no_update, no_update
        skipped = list(skipped or [])
        if current is None:
            return error("Nothing to label.", "annotate-error"), no_update, no_update, no_update
        if action == "skip":
            message, skipped = ok("Skipped.", "annotate-ok"), [*skipped, current]
        else:
            message = _apply(ctx, parse_query(search).project, action, current, comment or "", answer or "", dataset)
            if message.className == "error":
                return message, no_update, no_update, no_update
        entry, note = next_entry(ctx, parse_query(search), skipped)
        return message, card(entry, note, not refused(ctx)), entry_key(entry), skipped


def _apply(ctx: UiContext, project: str, action: str, current: dict[str, Any], comment: str, answer: str,
           dataset: str | None) -> Any:
    """Store what the button says about `current`; the answer to show."""
    datasets = DatasetStore(ctx.metadata)
    try:
        if current.get("kind") == "dataset":
            return _save_expected(datasets, project, action, current, answer)
        if action == "send" and not dataset:
            return error("Pick a dataset to send to first.", "annotate-error")
        label = action if action != "send" else ("incorrect" if answer.strip() else "correct")
        stored = save_label(ctx.store, datasets, project, Label(
            str(current["trace_id"]), str(current["span_id"]), label, annotator(), comment, answer.strip()),
            dataset if action == "send" else None)
    except ApiError as exc:
        return error(exc.message, "annotate-error")
    sent = f", added to {stored['dataset']} as item {stored['item_id']}" if "dataset" in stored else ""
    return ok(f"Labelled {label}{sent}.", "annotate-ok")


def _save_expected(datasets: DatasetStore, project: str, action: str, current: dict[str, Any], answer: str) -> Any:
    if action != "send" or not answer.strip():
        return error("Write the expected answer, then save it (d).", "annotate-error")
    version = found(lambda: datasets.edit_item(project, str(current["dataset"]), int(current["item"]),
                                               {"expected": answer.strip()}))
    return ok(f"Expected answer saved (version {version}).", "annotate-ok")
