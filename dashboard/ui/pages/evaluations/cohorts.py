"""A/B cohorts of live traffic: two sets of calls cut by one attribute (`?attribute=&a=&b=`, over the
page's time range), every metric side by side with its test.

The attribute is free text with suggestions (the filters' names, then the attribute keys recent
calls carried that split them into a few cohorts); each value is free text with the values that
attribute took in the window. The comparison is the API's (GET /api/v1/compare), its statistics
run in a worker process as the Compare page's do, so the UI process never maps SciPy.
"""

from __future__ import annotations

from typing import Any

from dash import Dash, Input, Output, State, dcc, html

from dashboard.api_cohorts import compare_report
from dashboard.params import ApiError
from dashboard.ui.context import UiContext
from dashboard.ui.pages.evaluations import cohorts_view, common
from dashboard.ui.urls import PageQuery, search_with
from schemas.clickhouse.cohort_choices import attribute_keys, attribute_values
from schemas.clickhouse.cohort_rollup import held_hours
from schemas.clickhouse.cohorts import COLUMNS, TAG, Cohorts

PARAMS = ("attribute", "a", "b")
# The API's own names first (a session is no cohort; `request_model` is `model`'s other name).
STANDARD = (*(name for name in COLUMNS if name not in ("session", "request_model")), TAG)
EXAMPLE = ("llmpulse.prompt.version", "v1", "v2")


def layout(ctx: UiContext, query: PageQuery) -> Any:
    picked = {name: query.raw.get(name, "").strip() for name in PARAMS}
    return html.Div([
        html.H1("A/B cohorts"), common.subnav(query, common.COHORTS),
        html.P("Two cohorts of live calls, cut by any attribute, over the time range above: each metric's "
               "difference with its test.", className="evals-description"),
        _pickers(ctx, query, picked),
        html.Div(_comparison(ctx, query, picked), id="ab-body"),
    ], className="evals")


def register(app: Dash, ctx: UiContext) -> None:
    for name in PARAMS:
        _register_param(app, name)


def _register_param(app: Dash, name: str) -> None:
    @app.callback(Output("url", "search", allow_duplicate=True), Input(f"ab-{name}", "value"),
                  State("url", "search"), prevent_initial_call=True)
    def set_param(value: Any, search: str | None) -> str:
        return search_with(search, {name: "" if value is None else str(value).strip()})


def _pickers(ctx: UiContext, query: PageQuery, picked: dict[str, str]) -> Any:
    keys = [*STANDARD, *(k for k in attribute_keys(ctx.store, query.project, query.start, query.end)
                         if k not in STANDARD)]
    values = attribute_values(ctx.store, query.project, picked["attribute"], query.start, query.end) \
        if picked["attribute"] else []
    return html.Div([
        _text("attribute", "Attribute", picked["attribute"], "model, service.version, …", keys, "wide"),
        _text("a", "Cohort A", picked["a"], "a value", values),
        html.Span("vs", className="muted"),
        _text("b", "Cohort B", picked["b"], "another value", values),
    ], className="evals-toolbar", id="ab-pickers")


def _text(name: str, label: str, value: str, placeholder: str, choices: list[str], size: str = "") -> Any:
    """A free-text box with the choices as suggestions (a datalist: typed values stay allowed)."""
    options = html.Datalist([html.Option(value=choice) for choice in choices], id=f"ab-{name}-choices")
    box = dcc.Input(id=f"ab-{name}", type="text", value=value, debounce=True, placeholder=placeholder,
                    list=f"ab-{name}-choices", className=f"evals-input {size}".strip())
    return html.Label([html.Span(label, className="evals-label"), box, options], className="evals-pick")


def _comparison(ctx: UiContext, query: PageQuery, picked: dict[str, str]) -> Any:
    if not all(picked.values()):
        return _hint(query)
    if picked["a"] == picked["b"]:
        return common.empty("Pick two different values: a cohort compared with itself has no difference.",
                            "ab-refusal")
    try:
        return cohorts_view.view(query, picked, compared(ctx, query, picked))
    except ApiError as exc:
        return common.empty(exc.message[:1].upper() + exc.message[1:], "ab-refusal")


def _hint(query: PageQuery) -> Any:
    attribute, a, b = EXAMPLE
    example = common.link(query, common.COHORTS, attribute=attribute, a=a, b=b)
    return common.empty([
        html.P("Pick an attribute and two of its values. An attribute is a filter's name (model, provider, "
               "service, environment, user, tag) or any span or resource attribute key your calls carry."),
        html.P(["For example, two prompt versions: ", dcc.Link(f"{attribute} = {a} vs {b}", href=example),
                "."]),
    ], "ab-hint")


def compared(ctx: UiContext, query: PageQuery, picked: dict[str, str]) -> dict[str, Any]:
    """The API's comparison of the two cohorts (GET /api/v1/compare), computed the same way."""
    cohorts = Cohorts(query.project, query.start, query.end, picked["attribute"], picked["a"], picked["b"],
                      query.filters)
    return compare_report(ctx.store, cohorts, held_hours(ctx.state, query.project, picked["attribute"]))
