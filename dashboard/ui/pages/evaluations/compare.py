"""Compare two experiments: a baseline and a candidate, and the gate's thresholds, picked in the URL
(`?baseline=&candidate=&min_pass_rate=&max_regressions=&max_cost_increase=&max_p95_increase=`).

The comparison is the API's (GET /api/v1/experiments/compare, `evals.compare`), run the same way:
refusals checked here by `evals.gate` (no SciPy in the UI process), the statistics in a worker
process. So the page, the API and `llmpulse eval gate` give one verdict for one pair.
"""

from __future__ import annotations

import math
from typing import Any

from dash import Dash, Input, Output, State, dcc, html

from dashboard.api_compare import COMPARE, add_inputs, in_worker, item_texts
from dashboard.params import ApiError
from dashboard.ui.context import UiContext
from dashboard.ui.forms import field
from dashboard.ui.pages.evaluations import common, compare_view
from dashboard.ui.urls import PageQuery, search_with
from evals.gate import BadThreshold, CompareRefused, Thresholds, check_comparable, check_thresholds
from schemas.metadata.datasets import DatasetStore
from schemas.metadata.experiments import ExperimentStore

SIDES = ("baseline", "candidate")
THRESHOLDS = {"min_pass_rate": "Minimum pass rate (0 to 1)", "max_regressions": "Most regressions",
              "max_cost_increase": "Most cost increase (%)", "max_p95_increase": "Most p95 increase (%)"}


def layout(ctx: UiContext, query: PageQuery) -> Any:
    experiments = ExperimentStore(ctx.metadata).list_experiments(query.project)
    picked = {side: query.raw.get(side, "") for side in SIDES}
    return html.Div([
        html.H1("Compare experiments"), common.subnav(query, common.COMPARE),
        html.Div([_picker(side, experiments, picked[side]) for side in SIDES], className="evals-toolbar"),
        _threshold_form(query),
        html.Div(_comparison(ctx, query, {e["name"]: e for e in experiments}, picked), id="compare-body"),
    ], className="evals")


def register(app: Dash, ctx: UiContext) -> None:
    for name in (*SIDES, *THRESHOLDS):
        _register_param(app, name)


def _register_param(app: Dash, name: str) -> None:
    @app.callback(Output("url", "search", allow_duplicate=True), Input(f"compare-{name}", "value"),
                  State("url", "search"), prevent_initial_call=True)
    def set_param(value: Any, search: str | None) -> str:
        return search_with(search, {name: "" if value is None else str(value).strip()})


def _picker(side: str, experiments: list[dict[str, Any]], value: str) -> Any:
    options = [{"label": f"{e['name']} ({e['dataset']}@v{e['dataset_version']}, {e['status']})", "value": e["name"]}
               for e in experiments]
    if value and value not in {e["name"] for e in experiments}:
        options.append({"label": f"{value} (not found)", "value": value})
    return html.Div([html.Span(side.capitalize(), className="evals-label"),
                     dcc.Dropdown(id=f"compare-{side}", options=options, value=value or None,
                                  placeholder=f"pick the {side}", className="evals-dropdown wide")],
                    className="evals-pick")


def _threshold_form(query: PageQuery) -> Any:
    inputs = [field(label, dcc.Input(id=f"compare-{name}", type="text", value=query.raw.get(name, ""),
                                     debounce=True, placeholder="not checked"))
              for name, label in THRESHOLDS.items()]
    return html.Details([html.Summary("Gate thresholds (as llmpulse eval gate takes them)"),
                         html.Div(inputs, className="form")], className="evals-thresholds",
                        open=any(query.raw.get(name) for name in THRESHOLDS))


def _comparison(ctx: UiContext, query: PageQuery, by_name: dict[str, dict[str, Any]],
                picked: dict[str, str]) -> Any:
    problem = refusal(by_name, picked)
    if not problem:
        try:
            thresholds = check_thresholds(read_thresholds(query.raw), has_baseline=True)
            base, cand = (by_name[picked[side]] for side in SIDES)
            check_comparable(base, cand)
            return compare_view.view(query, compared(ctx, query.project, base, cand, thresholds))
        except (BadThreshold, CompareRefused, ApiError) as exc:
            problem = exc.message if isinstance(exc, ApiError) else str(exc)
    return common.empty(problem[:1].upper() + problem[1:].rstrip(".") + ".", "compare-refusal")


def compared(ctx: UiContext, project: str, base: dict[str, Any], cand: dict[str, Any],
             thresholds: Thresholds) -> dict[str, Any]:
    """The API's comparison of the pair, with each item's input and expected answer."""
    store = ExperimentStore(ctx.metadata)
    results = [store.results(project, experiment["name"]) for experiment in (base, cand)]
    comparison = in_worker(COMPARE, (base, cand, results[0], results[1], thresholds))
    add_inputs(comparison["items"], item_texts(DatasetStore(ctx.metadata), project, cand))
    return comparison


def refusal(by_name: dict[str, dict[str, Any]], picked: dict[str, str]) -> str:
    """Why this pair cannot be picked, or "" when it can (the gate's own refusals come after)."""
    if not by_name:
        return ("No experiments yet: run two on the same dataset version (llmpulse eval run --dataset NAME "
                "--model MODEL), then compare them here.")
    if not all(picked.values()):
        return "Pick a baseline and a candidate: two finished experiments on the same dataset version."
    missing = [name for name in picked.values() if name not in by_name]
    if missing:
        return f"No experiment {missing[0]!r} in this project."
    if picked["baseline"] == picked["candidate"]:
        return "Pick two different experiments."
    return ""


def read_thresholds(raw: dict[str, str]) -> Thresholds:
    """The thresholds in the URL; `check_thresholds` then checks their ranges."""
    return Thresholds(min_pass_rate=_number(raw, "min_pass_rate"), max_regressions=_count(raw, "max_regressions"),
                      max_cost_increase=_number(raw, "max_cost_increase"),
                      max_p95_increase=_number(raw, "max_p95_increase"))


def _number(raw: dict[str, str], name: str) -> float | None:
    text = raw.get(name, "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise BadThreshold(f"{name} must be a number, got {text!r}")
    return value


def _count(raw: dict[str, str], name: str) -> int | None:
    text = raw.get(name, "").strip()
    if not text:
        return None
    if not text.isdigit():
        raise BadThreshold(f"{name} must be a whole number, 0 or more, got {text!r}")
    return int(text)
