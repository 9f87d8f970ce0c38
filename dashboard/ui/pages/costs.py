"""Costs: spend by a chosen dimension, daily spend against budgets, cache savings, unpriced calls.

The grouping is part of the URL (`?by=provider`), like the time range, so every view is a link
and the page needs no callback to re-query. The only callbacks are the price-override form's:
prefill the pattern from an unpriced model's row, and save (admins only when login is on: a viewer is
shown neither the form nor the buttons that feed or change it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from dash import ALL, Dash, Input, Output, State, dcc, html
from dash import ctx as callback_ctx
from dash.exceptions import PreventUpdate

from dashboard.ui import charts
from dashboard.ui import format as fmt
from dashboard.ui.context import UiContext
from dashboard.ui.downloads import csv_href, csv_link, window_params
from dashboard.ui.filters import filter_bar
from dashboard.ui.forms import clicked, clicked_id, error, field, ok, read_only, refused
from dashboard.ui.pages.alerts.budgets import budget_label, budget_state
from dashboard.ui.people_links import session_link, user_link
from dashboard.ui.tables import table
from dashboard.ui.urls import FILTERS, PageQuery
from detectors.alerts.budget_rules import DAY, BudgetSpec, BudgetStatus
from detectors.alerts.budget_spend import project_budgets
from schemas.clickhouse.cost_queries import COST_METRICS, DEFAULT_LIMIT, cost_by_group, unpriced_models
from schemas.clickhouse.metrics import RollupSpan, SeriesQuery, timeseries, window_values
from schemas.clickhouse.rollup import current_rollup
from schemas.metadata.store import MetadataError

GROUPS = (("model", "Model"), ("provider", "Provider"), ("service", "Service"), ("user", "User"),
          ("session", "Session"), ("tag", "Tag"))
# (metric, label, formatter)
TILES = (
    ("cost_total", "Spend", fmt.usd),
    ("cost_per_request", "Cost / request", fmt.usd),
    ("unpriced_requests", "Unpriced calls", fmt.count),
    ("prompt_cache_savings", "Saved by prompt caching", fmt.usd),
    ("app_cache_savings", "Saved by app caches", fmt.usd),
    ("cache_savings", "Saved by caching, total", fmt.usd),
)
# The spend table's columns: the cost metrics, then the tokens that made the cost.
TABLE_METRICS = (*COST_METRICS, "input_tokens", "output_tokens", "cached_tokens")
MIN_DAYS = 7  # the daily chart shows at least a week, whatever the range
CHART_GROUPS = 20
DAY_MS = 86_400_000
MAX_PRICE = Decimal(1_000_000)  # USD per million tokens; the column holds 12 integer digits
MAX_PATTERN, MAX_PROVIDER = 256, 64
PRICE_NOTE = ("A new price applies to calls ingested after the collector reloads its price book (within 30 s); "
              "calls already stored keep the cost they were given.")
PRICE_ADMIN_ONLY = "Changing prices needs the admin role."
MARGIN = {"l": 40, "r": 10, "t": 40, "b": 30}


class PriceFormError(ValueError):
    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.message, self.field = message, field


@dataclass(frozen=True)
class PriceForm:
    """A validated price override, in USD per million tokens."""

    model_pattern: str
    provider: str
    input_per_mtok: Decimal
    output_per_mtok: Decimal
    cache_read_per_mtok: Decimal | None
    cache_write_per_mtok: Decimal | None


def layout(ctx: UiContext, query: PageQuery) -> Any:
    rollup = current_rollup(ctx.store, ctx.state, query.project, query.start, query.end)
    by = query.raw.get("by") if query.raw.get("by") in dict(GROUPS) else "model"
    totals = window_values(ctx.store, SeriesQuery(query.project, tuple(m for m, *_ in TILES), query.start,
                                                  query.end, filters=query.filters), rollup)
    return html.Div([
        html.H1("Costs"), dcc.Store(id="costs-project", data=query.project),
        filter_bar(ctx, query, rollup, FILTERS),
        html.Div([_tile(m, label, f, totals[m]) for m, label, f in TILES], className="tiles"),
        _group_section(ctx, query, rollup, by, totals["cost_total"]),
        _budget_section(ctx, query, rollup),
        _price_section(ctx, query, rollup),
    ], className="costs")


def register(app: Dash, ctx: UiContext) -> None:
    @app.callback(Output("price-model", "value"), Input({"type": "price-pick", "model": ALL}, "n_clicks"),
                  prevent_initial_call=True)
    def pick_model(clicks: list[int | None]) -> str:
        trigger = callback_ctx.triggered_id
        if not any(clicks) or not isinstance(trigger, dict):
            raise PreventUpdate
        return str(trigger["model"])

    @app.callback(Output("price-message", "children"), Output("price-overrides", "children"),
                  Input("price-save", "n_clicks"), Input({"type": "price-delete", "id": ALL}, "n_clicks"),
                  State("costs-project", "data"), State("price-model", "value"),
                  State("price-provider", "value"), State("price-input", "value"), State("price-output", "value"),
                  State("price-cache-read", "value"), State("price-cache-write", "value"),
                  prevent_initial_call=True)
    def change_prices(save: int | None, deletes: list[int | None], project: str, *fields: Any) -> tuple[Any, Any]:
        delete_id = clicked_id("price-delete")
        if delete_id is None and not clicked():
            raise PreventUpdate
        if refused(ctx):
            return error(PRICE_ADMIN_ONLY, "price-refused"), _overrides(ctx, project, False)
        answer = _save(ctx, project, *fields) if delete_id is None else _delete(ctx, project, delete_id)
        return answer, _overrides(ctx, project, True)


# --- spend by group ------------------------------------------------------------------------------


def _group_section(ctx: UiContext, query: PageQuery, rollup: RollupSpan | None, by: str, total: Any) -> Any:
    label = dict(GROUPS)[by]
    q = SeriesQuery(query.project, TABLE_METRICS, query.start, query.end, group_by=by, filters=query.filters)
    rows = cost_by_group(ctx.store, q, rollup)
    links = [dcc.Link(text, href=query.link("/costs", by=key), id=f"by-{key}",
                      className="active" if key == by else "") for key, text in GROUPS]
    notes = [text for text, shown in (
        (f"The {DEFAULT_LIMIT} costliest shown.", len(rows) >= DEFAULT_LIMIT),
        ("A call with several tags counts under each of them, so shares can add up to more than 100%.", by == "tag"),
    ) if shown]
    return html.Section([
        html.Div([html.H2(f"Spend by {label.lower()}"), html.Span("group by", className="costs-muted"),
                  html.Nav(links, className="costs-by", id="group-by")], className="costs-heading"),
        html.P(" ".join(notes), className="costs-note") if notes else None,
        csv_link(csv_href("/costs", {**window_params(query), "by": by}), "costs-csv",
                 f"spend by {label.lower()} in this window, every group"),
        html.Div([dcc.Graph(figure=_group_figure(label, rows), id="cost-by-group-chart", config=charts.GRAPH_CONFIG)
                  if rows else None,  # no bars: the table says the range is empty, an empty chart says nothing
                  _group_table(label, rows, total, _key_cell(query, by))], className="costs-split costs-stack"),
    ])


def _group_figure(label: str, rows: list[dict[str, Any]]) -> Any:
    top = rows[:CHART_GROUPS][::-1]  # plotly draws horizontal bars bottom-up
    costs = [r["cost_total"] for r in top]
    bars = {"type": "bar", "orientation": "h", "x": costs, "y": [_key(r["key"]) for r in top],
            "marker": {"color": charts.ACCENT}, **charts.money_hover(costs, "%{y}")}
    return charts.figure([bars], title={"text": f"Cost by {label.lower()} (USD)"},
                         height=max(260, 40 + 24 * len(top)), margin=MARGIN, xaxis=charts.MONEY_AXIS)


def _key_cell(query: PageQuery, by: str) -> Callable[[Any], Any]:
    """A group's name; a user or a session links to its page."""
    links = {"user": user_link, "session": session_link}
    if by in links:
        return lambda key: links[by](query, key)
    return _key


def _group_table(label: str, rows: list[dict[str, Any]], total: Any, key_cell: Callable[[Any], Any]) -> Any:
    head = [label, "Requests", "Cost", "Cost / request", "Share", "Input tokens", "Output tokens", "Cached tokens",
            "Unpriced"]
    body = [html.Tr([html.Td(key_cell(r["key"])), html.Td(fmt.tokens(r["requests"])), *_money_cells(r, total),
                     *(html.Td(fmt.tokens(r[m]), className="num") for m in ("input_tokens", "output_tokens",
                                                                            "cached_tokens")),
                     html.Td(fmt.tokens(r["unpriced_requests"]), className="err" if r["unpriced_requests"] else "")])
            for r in rows] or [html.Tr(html.Td("Nothing in this time range.", colSpan=len(head)))]
    return table(head, body, "cost-table", "table costs-table")


def _money_cells(row: dict[str, Any], total: Any) -> list[Any]:
    """A group none of whose calls has a price shows no cost, rather than a misleading $0."""
    if row["unpriced_requests"] == row["requests"]:
        return [html.Td(fmt.MISSING, title="no call of this group has a price") for _ in range(3)]
    return [html.Td(fmt.usd(row["cost_total"])), html.Td(fmt.usd(row["cost_per_request"])),
            html.Td(_share(row["cost_total"], total))]


# --- daily spend and budgets ---------------------------------------------------------------------


def _budget_section(ctx: UiContext, query: PageQuery, rollup: RollupSpan | None) -> Any:
    start = _midnight(min(query.start, query.end - timedelta(days=MIN_DAYS - 1)))
    series = timeseries(ctx.store, SeriesQuery(query.project, ("cost_total",), start, query.end, "day",
                                               filters=query.filters), rollup)
    points = series["series"][0]["points"] if series["series"] else []
    budgets = _budgets(ctx, query.project, query.end, rollup)
    return html.Section([
        html.H2("Daily spend and budgets"),
        html.Div([dcc.Graph(figure=_daily_figure(points, budgets, start, query.end), id="daily-spend",
                            config=charts.GRAPH_CONFIG) if points or budgets
                  else html.P(f"No spend since {start:%Y-%m-%d}.", className="costs-note", id="daily-spend"),
                  _budget_table(budgets, query)], className="costs-split"),
    ])


def _budgets(ctx: UiContext, project: str, now: datetime,
             rollup: RollupSpan | None) -> list[tuple[int, BudgetSpec, BudgetStatus]]:
    if ctx.alerts is None:
        return []
    return [(b.id, spec, status) for b, spec, status in project_budgets(ctx.store, ctx.alerts, project, now, rollup)]


def _daily_figure(points: list[dict[str, Any]], budgets: list[tuple[int, BudgetSpec, BudgetStatus]],
                  start: datetime, end: datetime) -> Any:
    spend = [p["cost_total"] for p in points]
    traces = [{"type": "bar", "name": "Spend", "x": [p["t"] for p in points], "y": spend,
               "marker": {"color": charts.ACCENT}, "width": charts.bar_widths("day", len(points), 0.7),
               "xperiod": DAY_MS, "xperiodalignment": "middle", **charts.money_hover(spend, "%{x|%Y-%m-%d}")}]
    first, last = start, _midnight(end) + timedelta(days=1)
    for budget_id, spec, status in budgets:
        per_day = spec.amount_usd / max(1, (status.period_end - status.period_start).days)
        name = f"#{budget_id} {budget_label(spec)}" + ("" if spec.period == DAY else " ÷ days (daily pace)")
        traces.append({"type": "scatter", "mode": "lines", "name": name, "x": [first, last], "y": [float(per_day)] * 2,
                       **charts.money_hover([per_day] * 2, "%{fullData.name}"),
                       "line": {"dash": "solid" if spec.period == DAY else "dot", "width": 2}})
    # Each date under the middle of its day ("period" labels), so the first one clears the y axis's "$0".
    return charts.figure(traces, title={"text": "Daily spend (USD, UTC days)"}, height=300,
                         xaxis={"range": [first, last], "ticklabelmode": "period"},
                         yaxis=charts.MONEY_AXIS, margin={**MARGIN, "l": 56, "t": 64})


def _budget_table(budgets: list[tuple[int, BudgetSpec, BudgetStatus]], query: PageQuery) -> Any:
    if not budgets:
        return html.P(["No budgets for this project: add one on the ", dcc.Link("Alerts page",
                                                                                href=query.link("/alerts")),
                       "."], id="budget-table", className="costs-note")
    head = ["Budget", "Spent", "Used", "Forecast at period end", "Period ends (UTC)", "Status"]
    body = [html.Tr([html.Td(f"#{i} {budget_label(spec)}"), html.Td(fmt.usd(s.spent_usd)),
                     html.Td(fmt.pct(s.used_pct / 100)), html.Td(fmt.usd(s.projected_usd)),
                     html.Td(fmt.when(s.period_end, zone=False)), budget_state(s)]) for i, spec, s in budgets]
    return table(head, body, "budget-table", "table costs-table")


# --- unpriced calls and price overrides ----------------------------------------------------------


def _price_section(ctx: UiContext, query: PageQuery, rollup: RollupSpan | None) -> Any:
    """Unpriced calls and the overrides; the form and the buttons that feed or change it are an admin's only."""
    admin = not refused(ctx)
    q = SeriesQuery(query.project, ("unpriced_requests",), query.start, query.end, filters=query.filters)
    form = ([_price_form(), html.Div(id="price-message", className="message")] if admin
            else [read_only(PRICE_ADMIN_ONLY, "price-read-only")])
    return html.Section([
        html.H2("Unpriced calls"),
        html.P("Calls of models the price book does not know are stored without a cost: the spend above leaves "
               "them out and counts them apart, as unpriced calls. " +
               ("Give such a model a price below." if admin else "An admin can give such a model a price."),
               className="costs-note", id="unpriced-note"),
        _unpriced_table(unpriced_models(ctx.store, q, rollup), admin),
        html.H2("Price overrides"),
        html.P(PRICE_NOTE, className="costs-note", id="price-note"),
        *form,
        html.Div(_overrides(ctx, query.project, admin), id="price-overrides"),
    ])


def _unpriced_table(rows: list[dict[str, Any]], admin: bool) -> Any:
    if not rows:
        return html.P("Every call in this time range has a price.", id="unpriced-table", className="ok")
    body = [html.Tr([html.Td(_key(r["key"])), html.Td(fmt.full(r["unpriced_requests"])),
                     html.Td(fmt.full(r["requests"])),
                     *([html.Td(html.Button("set price", id={"type": "price-pick", "model": r["key"]},
                                            className="link costs-pick"))] if admin else [])]) for r in rows]
    head = html.Tr([html.Th(h) for h in ("Model", "Unpriced calls", "All calls", *([""] if admin else []))])
    return html.Table([html.Thead(head), html.Tbody(body)], className="table costs-table", id="unpriced-table")


def _price_form() -> Any:
    def usd(control_id: str, placeholder: str) -> Any:
        return dcc.Input(id=control_id, type="number", min=0, step="any", placeholder=placeholder)

    return html.Div([
        field("Model (name or glob)", dcc.Input(id="price-model", type="text", placeholder="ft:gpt-4o-mini:acme:*")),
        field("Provider (optional)", dcc.Input(id="price-provider", type="text", placeholder="any")),
        field("Input, USD / 1M tokens", usd("price-input", "e.g. 0.15")),
        field("Output, USD / 1M tokens", usd("price-output", "e.g. 0.60")),
        field("Cache read, USD / 1M (optional)", usd("price-cache-read", "input price")),
        field("Cache write, USD / 1M (optional)", usd("price-cache-write", "input price")),
        html.Span("valid from now", className="costs-muted"),
        html.Button("Add price", id="price-save", className="button"),
    ], className="form costs-price-form")


def _save(ctx: UiContext, project: str, *fields: Any) -> Any:
    try:
        form = parse_price_form(*fields)
        override_id = ctx.metadata.add_price_override(
            project, form.model_pattern, form.input_per_mtok, form.output_per_mtok, datetime.now(UTC),
            provider=form.provider, cache_read_per_mtok=form.cache_read_per_mtok,
            cache_write_per_mtok=form.cache_write_per_mtok)
    except PriceFormError as exc:
        return error(f"{exc.field}: {exc.message}", "price-error")
    except MetadataError as exc:
        return error(str(exc), "price-error")
    return ok(f"Price override {override_id} added for {form.model_pattern!r}. {PRICE_NOTE}", "price-saved")


def _delete(ctx: UiContext, project: str, override_id: int) -> Any:
    if override_id not in {r["id"] for r in ctx.metadata.list_price_overrides(project)}:
        return error(f"Price override {override_id} is not one of project {project!r}.", "price-error")
    ctx.metadata.delete_price_override(override_id)
    return ok(f"Price override {override_id} deleted: calls ingested after the collector reloads its price "
              "book (within 30 s) use the remaining overrides or list prices; stored calls keep their cost.",
              "price-deleted")


def parse_price_form(model: Any, provider: Any, input_: Any, output: Any, cache_read: Any,
                     cache_write: Any) -> PriceForm:
    """The form's values, checked: a pattern, and non-negative USD amounts (cache prices optional)."""
    pattern, vendor = str(model or "").strip(), str(provider or "").strip()
    if not pattern:
        raise PriceFormError("a model name or glob pattern is required", "model")
    if len(pattern) > MAX_PATTERN or len(vendor) > MAX_PROVIDER:
        raise PriceFormError(f"at most {MAX_PATTERN} characters for a model, {MAX_PROVIDER} for a provider",
                             "model" if len(pattern) > MAX_PATTERN else "provider")
    return PriceForm(pattern, vendor, _usd(input_, "input", required=True), _usd(output, "output", required=True),
                     _usd(cache_read, "cache read"), _usd(cache_write, "cache write"))


def _usd(value: Any, name: str, required: bool = False) -> Any:
    if value is None or value == "":
        if required:
            raise PriceFormError("a non-negative number of USD per million tokens is required", name)
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        amount = Decimal("NaN")
    if not amount.is_finite() or not 0 <= amount <= MAX_PRICE:
        raise PriceFormError(f"{value!r} is not a non-negative number of USD per million tokens "
                             f"(at most {MAX_PRICE:,})", name)
    return amount


def _overrides(ctx: UiContext, project: str, admin: bool) -> Any:
    """The project's price overrides; an admin's rows carry a delete button."""
    rows = ctx.metadata.list_price_overrides(project)
    if not rows:
        return html.P("No price overrides in this project.", className="costs-note")
    head = ("#", "Model", "Provider", "Input", "Output", "Cache read", "Cache write", "Valid from (UTC)")
    body = [html.Tr([html.Td(r["id"]), html.Td(r["model_pattern"]), html.Td(r["provider"] or "any"),
                     *(html.Td(_per_mtok(r[k])) for k in ("input_per_mtok", "output_per_mtok", "cache_read_per_mtok",
                                                          "cache_write_per_mtok")),
                     html.Td(fmt.when(r["valid_from"], zone=False)),
                     *([html.Td(html.Button("delete", id={"type": "price-delete", "id": r["id"]}, className="link"))]
                       if admin else [])])
            for r in rows]
    return table((*head, "") if admin else head, body, "price-override-table", "table costs-table")


# --- small helpers -------------------------------------------------------------------------------


def _tile(metric: str, label: str, formatter: Any, value: Any) -> Any:
    return html.Div([html.Div(label, className="label"), html.Div(formatter(value), className="value")],
                    className="tile", id=f"costs-{metric}")


def _key(value: Any) -> str:
    return str(value) if value not in (None, "") else "(none)"


def _share(part: Any, total: Any) -> str:
    return fmt.pct(float(part) / float(total)) if part is not None and total else fmt.MISSING


def _per_mtok(value: Any) -> str:
    return fmt.MISSING if value is None else f"${Decimal(value).normalize():f}"


def _midnight(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
