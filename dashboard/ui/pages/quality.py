"""Quality: the hallucination rate over time with its interval and sample size, rates per model and
scorer, score distributions, the flagged spans (each a link to its trace) and drift events with
the features that moved.

A rate is never shown without its sample: each bucket's Wilson interval is drawn as a band and
the number of scored spans as bars, so a spike on six spans reads as the noise it is. Text that
came from spans or apps (models, scorers, reasons, categories) is shown as Dash text children,
which are escaped, and escaped again before it reaches a Plotly label, which would read markup.
"""

from __future__ import annotations

import html as markup
from collections.abc import Mapping
from typing import Any

import plotly.graph_objects as go
from dash import Dash, Input, Output, State, dcc, html
from dash.exceptions import PreventUpdate
from plotly.subplots import make_subplots

from dashboard.annotations import answer_text, assembled_spans
from dashboard.ui import charts
from dashboard.ui import format as fmt
from dashboard.ui.context import UiContext
from dashboard.ui.pages.quality_runs import run_scorer, scorer_status
from dashboard.ui.span_to_dataset import add_form, dataset_options
from dashboard.ui.urls import PageQuery, parse_query, search_with
from detectors.scoring.interval import rate_with_interval
from schemas.clickhouse.quality import drift_events, hallucination_counts
from schemas.clickhouse.quality_series import flagged_calls, hallucination_series, score_histograms, scored_models

FLAGGED_LIMIT = 25
MAX_FEATURE_CHARTS = 4
RATE_COLOR, BAND_COLOR, SAMPLE_COLOR = "#ef4444", "rgba(239, 68, 68, 0.18)", "rgba(148, 163, 184, 0.35)"
BASELINE_COLOR, CURRENT_COLOR = "#64748b", "#6366f1"
CHART = {"template": "plotly_dark", "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)"}
GRAPH_CONFIG = {"displaylogo": False}
SMALL_GRAPH_CONFIG = {"displayModeBar": False}  # the toolbar would cover a small chart's title


def layout(ctx: UiContext, query: PageQuery, ran: str = "") -> Any:
    """`ran`: what a "run now" click just did, said beside the button."""
    model = query.filters.get("model")
    by_model = hallucination_counts(ctx.store, query.project, query.start, query.end, "model")
    by_scorer = hallucination_counts(ctx.store, query.project, query.start, query.end, "scorer", model=model)
    models = scored_models(ctx.store, query.project, query.start, query.end)
    return html.Div([
        html.H1("Quality"),
        _model_picker(models, model),
        _summary(by_scorer),
        scorer_status(ctx, ran),
        html.H2("Hallucination rate"),
        _rate_chart(ctx, query, model),
        html.Div([_rate_table("By model", "Model", by_model, "quality-by-model", query, model),
                  _rate_table("By scorer", "Scorer", by_scorer, "quality-by-scorer", query, model)],
                 className="quality-pair"),
        html.P("Each scored span counts once, under its most authoritative verdict: a person's label (Annotate), "
               "then the app's score or its users' feedback, then the LLM judge's, then the offline scorer's.",
               className="quality-note"),
        html.H2("Score distributions"),
        _score_charts(ctx, query, model),
        html.H2("Flagged spans"),
        _flagged_table(ctx, query, model),
        html.H2("Drift events"),
        _drift_list(drift_events(ctx.store, query.project, query.start, query.end, model)),
    ], className="quality", id="quality-page")


def register(app: Dash, ctx: UiContext) -> None:
    @app.callback(Output("quality-page", "children"), Input("quality-run-now", "n_clicks"), State("url", "search"),
                  prevent_initial_call=True)
    def run_now(clicks: int | None, search: str | None) -> Any:
        if not clicks:
            raise PreventUpdate
        ran = run_scorer(ctx)
        return layout(ctx, parse_query(search), ran).children

    @app.callback(Output("url", "search", allow_duplicate=True), Input("quality-model", "value"),
                  State("url", "search"), prevent_initial_call=True)
    def pick_model(model: str | None, current: str | None) -> str:
        return search_with(current, {"model": model or ""})


# --- rates -------------------------------------------------------------------------------------


def _model_picker(models: list[str], model: str | None) -> Any:
    options = [{"label": m, "value": m} for m in sorted({*models, *([model] if model else [])})]
    return html.Div([html.Span("Model", className="quality-label"),
                     dcc.Dropdown(id="quality-model", options=options, value=model, placeholder="all models",
                                  clearable=True, className="quality-dropdown")], className="quality-toolbar")


def _summary(groups: list[dict[str, Any]]) -> Any:
    rate = rate_with_interval(sum(g["flagged"] for g in groups), sum(g["sampled"] for g in groups))
    shown = fmt.pct(rate.rate) if rate.sampled else fmt.MISSING
    tiles = (("Scored spans", fmt.count(rate.sampled)), ("Flagged", fmt.count(rate.flagged)),
             ("Hallucination rate", shown), ("95% interval", _interval(rate) if rate.sampled else fmt.MISSING))
    return html.Div([html.Div([html.Div(label, className="label"), html.Div(value, className="value")],
                              className="tile") for label, value in tiles], className="quality-tiles",
                    id="quality-summary")


def _interval(rate: Any) -> str:
    return f"{fmt.pct(rate.ci_low)} to {fmt.pct(rate.ci_high)}"


def _rate_chart(ctx: UiContext, query: PageQuery, model: str | None) -> Any:
    bucket = "hour" if query.bucket == "minute" else query.bucket  # a minute holds too few scored calls
    rows = hallucination_series(ctx.store, query.project, query.start, query.end, bucket, model)
    if not rows:
        return html.P(_unscored(ctx, query), className="quality-empty", id="quality-rate")
    return dcc.Graph(figure=rate_figure(rows, query), id="quality-rate", config=GRAPH_CONFIG)


def _unscored(ctx: UiContext, query: PageQuery) -> list[Any]:
    """Why nothing is scored: no sample rate, or (with one) the scorer has not reached these calls yet."""
    project = ctx.metadata.get_project(query.project)
    if project is not None and project.eval_sample_rate:
        return [f"No scored spans in this time range yet. Spans are sampled at {fmt.pct(project.eval_sample_rate)} "
                "when the hallucination scorer runs (its next run is above)."]
    return ["No scored spans in this time range. Spans are scored at the project's sample rate: set it with ",
            html.Code('PUT /api/v1/projects/<project> {"eval_sample_rate": 0.1}'),
            " or send scores from your app (POST /api/v1/scores)."]


def rate_figure(rows: list[dict[str, Any]], query: PageQuery) -> go.Figure:
    """The rate as a line inside its 95% band, and the spans scored per bucket as bars beneath, over
    the whole selected range (`charts.time_axis`)."""
    times = charts.bucket_times([r["t"] for r in rows], query.start)
    rates = [rate_with_interval(r["flagged"], r["sampled"]) for r in rows]
    hover = [f"{r.flagged} of {r.sampled} flagged: {fmt.pct(r.rate)} (95% interval {_interval(r)})" for r in rates]
    figure = go.Figure([
        go.Bar(x=times, y=[r.sampled for r in rates], name="scored spans", yaxis="y2", marker_color=SAMPLE_COLOR,
               hovertemplate="%{y} scored<extra></extra>", width=charts.bar_widths(query.bucket, len(rates))),
        go.Scatter(x=times, y=[r.ci_high for r in rates], mode="lines", line={"width": 0}, showlegend=False,
                   hoverinfo="skip"),
        go.Scatter(x=times, y=[r.ci_low for r in rates], mode="lines", line={"width": 0}, fill="tonexty",
                   fillcolor=BAND_COLOR, name="95% interval", hoverinfo="skip"),
        go.Scatter(x=times, y=[r.rate for r in rates], mode="lines+markers", name="hallucination rate",
                   line={"color": RATE_COLOR}, hovertext=hover, hoverinfo="x+text"),
    ])
    top = max(r.ci_high for r in rates)
    most = max(r.sampled for r in rates)
    figure.update_layout(
        **CHART, height=320, margin={"l": 50, "r": 50, "t": 30, "b": 40}, legend={"orientation": "h", "y": -0.2},
        hovermode="x unified", xaxis=charts.time_axis(query.start, query.end),
        yaxis={"title": "hallucination rate", "tickformat": ".0%", "range": [0, min(1.0, top * 1.1) or 1.0]},
        # bars take the bottom third, so the band above them stays readable
        yaxis2={"title": "scored spans", "overlaying": "y", "side": "right", "showgrid": False,
                "range": [0, most * 3], "tickvals": sorted({0, most // 2, most})},
    )
    return figure


def _rate_table(title: str, key_label: str, groups: list[dict[str, Any]], table_id: str, query: PageQuery,
                model: str | None) -> Any:
    head = html.Tr([html.Th(h) for h in (key_label, "Scored", "Flagged", "Rate", "95% interval")])
    body = []
    for group in groups:
        rate = rate_with_interval(group["flagged"], group["sampled"])
        key: Any = group["key"] or fmt.MISSING
        if key_label == "Model" and group["key"]:
            key = dcc.Link(group["key"], href=query.link("/quality", model=group["key"]))
        selected = key_label == "Model" and group["key"] == model
        body.append(html.Tr([html.Td(key), html.Td(fmt.full(rate.sampled)), html.Td(fmt.full(rate.flagged)),
                             html.Td(fmt.pct(rate.rate)), html.Td(_interval(rate))],
                            className="selected" if selected else ""))
    if not body:
        body = [html.Tr(html.Td("Nothing scored in this time range.", colSpan=5))]
    return html.Div([html.H3(title), html.Table([html.Thead(head), html.Tbody(body)], className="table",
                                                id=table_id)])


# --- scores ------------------------------------------------------------------------------------


def _score_charts(ctx: UiContext, query: PageQuery, model: str | None) -> Any:
    bins = score_histograms(ctx.store, query.project, query.start, query.end, model)
    scorers: dict[str, list[dict[str, Any]]] = {}
    for row in bins:
        scorers.setdefault(row["scorer"], []).append(row)
    if not scorers:
        return html.P("No scores in this time range.", className="quality-empty", id="quality-scores")
    return html.Div([html.Div([html.H3(scorer), dcc.Graph(figure=histogram_figure(rows), id=f"quality-score-{i}",
                                                          config=SMALL_GRAPH_CONFIG)], className="quality-panel")
                     for i, (scorer, rows) in enumerate(scorers.items())], className="quality-grid",
                    id="quality-scores")


def histogram_figure(rows: list[dict[str, Any]]) -> go.Figure:
    """Ten even bins per scorer, the empty ones drawn as zero so the shape is honest."""
    width = rows[0]["bin_hi"] - rows[0]["bin_lo"]
    origin = rows[0]["bin_lo"] - rows[0]["bin"] * width
    calls = {r["bin"]: r["calls"] for r in rows}
    lows = [origin + b * width for b in range(10)]
    figure = go.Figure(go.Bar(
        x=[lo + width / 2 for lo in lows], y=[calls.get(b, 0) for b in range(10)], width=width * 0.95,
        marker_color=CURRENT_COLOR, hovertext=[f"{lo:.3g} to {lo + width:.3g}: {calls.get(b, 0)} span(s)"
                                               for b, lo in enumerate(lows)], hoverinfo="text"))
    figure.update_layout(**CHART, height=230, margin={"l": 40, "r": 10, "t": 10, "b": 40},
                         xaxis={"title": "score", "range": [origin, origin + 10 * width]},
                         yaxis={"title": "spans"}, bargap=0)
    return figure


def _flagged_table(ctx: UiContext, query: PageQuery, model: str | None) -> Any:
    rows = flagged_calls(ctx.store, query.project, query.start, query.end, FLAGGED_LIMIT, model)
    spans = assembled_spans(ctx.store, query.project, [(r["trace_id"], r["span_id"]) for r in rows])
    options = dataset_options(ctx, query.project)
    head = html.Tr([html.Th(h) for h in ("Time (UTC)", "Model", "Scorer", "Reason", "Score", "")])
    body = [html.Tr([
        html.Td(dcc.Link(fmt.when(r["span_time"], zone=False), href=query.link(f"/traces/{r['trace_id']}"))),
        html.Td(r["request_model"]), html.Td(_scorer(r)), html.Td(r["reason"] or r["label"], className="reason"),
        html.Td(fmt.MISSING if r["score"] is None else f"{r['score']:.2f}"),
        html.Td(_add(ctx, query, r, spans.get((r["trace_id"], r["span_id"])), options), className="add"),
    ], className="flagged-row") for r in rows]
    if not rows:
        body = [html.Tr(html.Td("No span was judged hallucinated in this time range.", colSpan=6))]
    note = f"The newest {FLAGGED_LIMIT}; GET /api/v1/quality/flagged lists more." if len(rows) == FLAGGED_LIMIT else ""
    return html.Div([html.Table([html.Thead(head), html.Tbody(body)], className="table", id="quality-flagged"),
                     html.P(note, className="quality-note")])


def _scorer(row: dict[str, Any]) -> str:
    """A person's label names who gave it."""
    return f"{row['scorer']} ({row['annotator']})" if row.get("annotator") else row["scorer"]


def _add(ctx: UiContext, query: PageQuery, row: dict[str, Any], span: dict[str, Any] | None,
         options: list[dict[str, str]]) -> Any:
    if span is None or not span["input_messages"]:
        return None
    return add_form(ctx, query.project, row["trace_id"], row["span_id"], answer_text(span), options)


# --- drift -------------------------------------------------------------------------------------


def _drift_list(events: list[dict[str, Any]]) -> Any:
    if not events:
        return html.P("No drift events in this time range.", className="quality-empty", id="quality-drift")
    return html.Div([_drift_event(e, i) for i, e in enumerate(events)], id="quality-drift")


def _drift_event(event: dict[str, Any], index: int) -> Any:
    head = html.Div([
        html.Span(fmt.when(event["changed_at"]), className="drift-time"),
        html.Span(event["kind"].replace("_", " "), className=f"drift-kind {event['kind']}"),
        html.Span(event["model"], className="drift-model"),
    ], className="drift-head")
    parts = [head]
    if event["from"] or event["to"]:  # a shift only the classifier saw has no feature to name
        parts.append(html.Div([html.Span(event["from"] or fmt.MISSING), html.Span(" → ", className="arrow"),
                               html.Span(event["to"] or fmt.MISSING)], className="drift-change"))
    parts.append(html.P(event["summary"], className="drift-summary"))
    if event["kind"] == "behaviour":
        parts.append(html.P(_evidence(event), className="quality-note"))
        features = _charted_features(event["features"])
        if features:
            parts.append(dcc.Graph(figure=feature_figure(features), id=f"drift-features-{index}",
                                   config=SMALL_GRAPH_CONFIG, style={"maxWidth": f"{320 * len(features)}px"}))
    return html.Div(parts, className="drift-event")


def _evidence(event: dict[str, Any]) -> str:
    auc = f"classifier AUC {event['auc']:.2f}" if event.get("auc") is not None else "no classifier"
    return f"{auc} · {event['baseline_n']} baseline calls vs {event['current_n']} current"


def _charted_features(features: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The features that moved or, when only the classifier told the windows apart, the closest calls."""
    usable = [f for f in features if f.get("baseline") is not None and f.get("current") is not None]
    moved = [f for f in usable if f.get("moved")]
    return (moved or usable)[:MAX_FEATURE_CHARTS]


def feature_figure(features: list[dict[str, Any]]) -> go.Figure:
    """Baseline beside current per feature: medians, rates, or the shares of each category."""
    titles = [_plain(f["name"]) + ("" if f.get("moved") else " (did not move)") for f in features]
    figure = make_subplots(rows=1, cols=len(features), subplot_titles=titles)
    for col, feature in enumerate(features, start=1):
        for window, color in (("baseline", BASELINE_COLOR), ("current", CURRENT_COLOR)):
            labels, values = _feature_bars(feature[window], feature.get("test", ""))
            figure.add_trace(go.Bar(x=labels, y=values, name=window, marker_color=color, legendgroup=window,
                                    showlegend=col == 1, hovertemplate=f"{window}: %{{y:.4g}}<extra></extra>"),
                             row=1, col=col)
        if _is_share(feature):
            figure.update_yaxes(tickformat=".0%", row=1, col=col)
    figure.update_layout(**CHART, height=230, barmode="group", margin={"l": 40, "r": 10, "t": 30, "b": 30},
                         legend={"orientation": "h", "y": -0.15})
    return figure


def _feature_bars(value: Any, test: str) -> tuple[list[str], list[float]]:
    if isinstance(value, Mapping):
        return [_plain(k) for k in value], [float(v) for v in value.values()]
    return ["rate" if test == "fisher exact" else "median"], [float(value)]


def _is_share(feature: dict[str, Any]) -> bool:
    return isinstance(feature["baseline"], Mapping) or feature.get("test") == "fisher exact"


def _plain(text: Any) -> str:
    """Plotly reads a little HTML in labels; entities show as the characters they stand for."""
    return markup.escape(str(text))
