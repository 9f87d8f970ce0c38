"""Compare two experiments: a baseline and a candidate picked in the URL (`?baseline=&candidate=`).

Only two runs of one dataset version pair item by item; for any other pair the page says so
and compares nothing, as `llmpulse eval gate` refuses it.
"""

from __future__ import annotations

from typing import Any

from dash import Dash, Input, Output, State, dcc, html

from dashboard.ui.context import UiContext
from dashboard.ui.pages.evaluations import common
from dashboard.ui.urls import PageQuery, search_with
from schemas.metadata.experiments import ExperimentStore

SIDES = ("baseline", "candidate")


def layout(ctx: UiContext, query: PageQuery) -> Any:
    experiments = ExperimentStore(ctx.metadata).list_experiments(query.project)
    by_name = {e["name"]: e for e in experiments}
    picked = {side: query.raw.get(side, "") for side in SIDES}
    return html.Div([
        html.H1("Compare experiments"), common.subnav(query, common.COMPARE),
        html.Div([_picker(side, experiments, picked[side]) for side in SIDES], className="evals-toolbar"),
        html.Div(_comparison(ctx, query, by_name, picked), id="compare-body"),
    ], className="evals")


def register(app: Dash, ctx: UiContext) -> None:
    for side in SIDES:
        _register_picker(app, side)


def _register_picker(app: Dash, side: str) -> None:
    @app.callback(Output("url", "search", allow_duplicate=True), Input(f"compare-{side}", "value"),
                  State("url", "search"), prevent_initial_call=True)
    def pick(name: str | None, search: str | None) -> str:
        return search_with(search, {side: name or ""})


def _picker(side: str, experiments: list[dict[str, Any]], value: str) -> Any:
    options = [{"label": f"{e['name']} ({e['dataset']}@v{e['dataset_version']}, {e['status']})", "value": e["name"]}
               for e in experiments]
    return html.Div([html.Span(side.capitalize(), className="evals-label"),
                     dcc.Dropdown(id=f"compare-{side}", options=options, value=value or None,
                                  placeholder=f"pick the {side}", className="evals-dropdown wide")],
                    className="evals-pick")


def _comparison(ctx: UiContext, query: PageQuery, by_name: dict[str, dict[str, Any]],
                picked: dict[str, str]) -> Any:
    problem = refusal(by_name, picked)
    if problem:
        return common.empty(problem, "compare-refusal")
    return common.empty("The comparison view arrives with evals/compare.py.", "compare-refusal")


def refusal(by_name: dict[str, dict[str, Any]], picked: dict[str, str]) -> str:
    """Why this pair cannot be compared, or "" when it can."""
    if not by_name:
        return ("No experiments yet: run two on the same dataset version (llmpulse eval run --dataset NAME "
                "--model MODEL), then compare them here.")
    if not all(picked.values()):
        return "Pick a baseline and a candidate: two experiments on the same dataset version."
    missing = [name for name in picked.values() if name not in by_name]
    if missing:
        return f"No experiment {missing[0]!r} in this project."
    base, cand = (by_name[picked[side]] for side in SIDES)
    if picked["baseline"] == picked["candidate"]:
        return "Pick two different experiments."
    if (base["dataset"], base["dataset_version"]) != (cand["dataset"], cand["dataset_version"]):
        return (f"These ran on different dataset versions ({base['dataset']}@v{base['dataset_version']} and "
                f"{cand['dataset']}@v{cand['dataset_version']}): only runs of the same version pair item by item. "
                "Run the candidate again on the baseline's version.")
    if not (common.finished(base) and common.finished(cand)):
        return "One of them is still running: the comparison is made once both have finished."
    return ""
