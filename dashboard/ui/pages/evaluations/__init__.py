"""Evaluations: golden datasets, the experiments run on them, the comparison of two runs, and live
traffic's A/B cohorts and shadow pairs.

One module per view; this one routes the section's paths (a dataset's or an experiment's name
is the last path segment, quoted) and answers a missing one with a page that says so.
"""

from __future__ import annotations

from typing import Any

from dash import Dash, dcc, html

from dashboard.ui.context import UiContext
from dashboard.ui.pages.evaluations import cohorts, common, compare, datasets, experiment, experiments, shadow
from dashboard.ui.urls import PageQuery
from schemas.metadata.datasets import DatasetNotFound
from schemas.metadata.experiments import ExperimentNotFound
from schemas.metadata.store import MetadataError

ROOT, ANNOTATE = common.ROOT, common.ANNOTATE
VIEWS = {ROOT: datasets.layout, common.DATASETS: datasets.layout, common.EXPERIMENTS: experiments.layout,
         common.COMPARE: compare.layout, common.COHORTS: cohorts.layout,
         common.SHADOW: shadow.layout}  # the section's fixed paths (the page walker visits each)


def route(ctx: UiContext, query: PageQuery, path: str) -> Any:
    try:
        return _view(ctx, query, path.rstrip("/") or ROOT)
    except (DatasetNotFound, ExperimentNotFound, MetadataError) as exc:
        return html.Div([html.H1("Not found"), html.P(str(exc).capitalize() + ".", id="evals-not-found"),
                         dcc.Link("all datasets", href=common.link(query, common.DATASETS)), " · ",
                         dcc.Link("all experiments", href=common.link(query, common.EXPERIMENTS))])


def has_page(path: str) -> bool:
    """Whether `path` (under ROOT) is one of the section's pages: what `_view` does not answer with
    "Page not found" (an unknown dataset or experiment name is a page that says so)."""
    path = path.rstrip("/") or ROOT
    named = any(path.startswith(f"{prefix}/") and len(path) > len(prefix) + 1
                for prefix in (common.DATASETS, common.EXPERIMENTS))
    return path in VIEWS or named


def _view(ctx: UiContext, query: PageQuery, path: str) -> Any:
    if path in VIEWS:
        return VIEWS[path](ctx, query)
    if path.startswith(common.DATASETS + "/"):
        return datasets.detail(ctx, query, common.name_in(path, common.DATASETS))
    if path.startswith(common.EXPERIMENTS + "/"):
        return experiment.detail(ctx, query, common.name_in(path, common.EXPERIMENTS))
    return html.Div([html.H1("Page not found"), html.P("Use the navigation above.")])


def register(app: Dash, ctx: UiContext) -> None:
    for view in (datasets, experiments, experiment, compare, cohorts, shadow):
        view.register(app, ctx)
