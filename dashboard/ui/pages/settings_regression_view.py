"""What the Settings page's regression section draws: a target's row of the form, the set as a
viewer reads it, and the runs the regression job started with their gate verdicts.

Drawing only: reading and saving are `settings_regression`'s. A target row carries every field a
target may have (`evals.regression_settings.TARGET_FIELDS`), the prompts and parameters folded
away, so a form saved over a target set through the API keeps its prompts.
"""

from __future__ import annotations

from typing import Any

from dash import dcc, html

from dashboard.ui import format as fmt
from dashboard.ui.context import UiContext
from dashboard.ui.forms import field
from dashboard.ui.pages.evaluations import common
from dashboard.ui.tables import table
from dashboard.ui.urls import PageQuery
from evals.summary import summarize
from schemas.metadata.experiments import ExperimentStore
from schemas.metadata.regression import BASELINE, RegressionSet, RegressionStore

FIELD, REMOVE = "regression-target", "regression-target-remove"  # pattern-matching id types of a row
# The row's first line: field → (label, placeholder); the endpoint's placeholder is the server's default.
MAIN = {"requested": ("Requested model (gen_ai.request.model)", "gpt-4o"),
        "endpoint": ("Endpoint (OpenAI-compatible base URL)", "https://api.openai.com/v1"),
        "model": ("Model to ask", "as requested"),
        "api_key_env": ("Key: a server environment variable", "LLMPULSE_TARGET_…")}
MORE = {"system_prompt": ("System prompt", "as your app sends it"),
        "prompt_template": ("Prompt template ({{input}}: the item's input)", "Question: {{input}}"),
        "temperature": ("Temperature (0 to 2)", "the model's default"),
        "max_tokens": ("Max tokens", "the model's default"),
        "max_concurrency": ("Concurrency", "the server's default")}
PROMPTS = ("system_prompt", "prompt_template")
RUNS_SHOWN = 20
RUN_HEAD = ("Experiment", "Model", "Change tested", "Started (UTC)", "Run", "Pass rate", "Gate", "Gated against",
            "Incident")


# --- the form's target rows ----------------------------------------------------------------------


def target_rows(rows: list[dict[str, Any]], default_endpoint: str) -> list[Any]:
    """One row per target (field → value as typed or stored), numbered 0… in order."""
    if not rows:
        return [html.P("No targets: add one per requested model, or nothing runs.", className="muted")]
    return [target_row(index, row, default_endpoint) for index, row in enumerate(rows)]


def target_row(index: int, values: dict[str, Any], default_endpoint: str) -> Any:
    main = [field(label, _control(name, index, values.get(name), _placeholder(name, hint, default_endpoint)))
            for name, (label, hint) in MAIN.items()]
    more = [field(label, _control(name, index, values.get(name), hint)) for name, (label, hint) in MORE.items()]
    remove = html.Button("remove", id={"type": REMOVE, "id": index}, className="link regression-remove-row",
                         title="Take this model out of the set (saved with the form)")
    folded = html.Details([html.Summary(_more_summary(values)), html.Div(more, className="regression-more")],
                          className="regression-details")
    return html.Div([*main, remove, folded], className="regression-target", id=f"regression-target-{index}")


def stored_rows(found: RegressionSet | None) -> list[dict[str, Any]]:
    """The stored targets as form rows (at least one row, blank for a set without targets)."""
    rows = [{"requested": model, **target} for model, target in (found.targets if found else {}).items()]
    return rows or [{}]


def _control(name: str, index: int, value: Any, placeholder: str) -> Any:
    control_id = {"type": FIELD, "field": name, "id": index}
    text = "" if value is None else str(value)
    if name in PROMPTS:
        return dcc.Textarea(id=control_id, value=text, placeholder=placeholder, rows=2, className=f"target-{name}")
    return dcc.Input(id=control_id, type="text", value=text, placeholder=placeholder, className=f"target-{name}",
                     inputMode="decimal" if name in ("temperature", "max_tokens", "max_concurrency") else "text")


def _placeholder(name: str, hint: str, default_endpoint: str) -> str:
    return f"default: {default_endpoint}" if name == "endpoint" and default_endpoint else hint


def _more_summary(values: dict[str, Any]) -> str:
    """The folded part's title says what is set in it, so nothing set there goes unseen."""
    shown = [MORE[name][0].split(" (")[0].lower() for name in MORE if values.get(name) not in (None, "")]
    return "Prompt and parameters" + (f": {', '.join(shown)} set" if shown else " (optional)")


# --- the set as a viewer reads it ----------------------------------------------------------------


def summary(query: PageQuery, found: RegressionSet | None, channels: dict[int, str]) -> Any:
    if found is None:
        return html.P("No regression set: model changes are recorded, but nothing is run against them.",
                      className="muted", id="regression-summary")
    dataset = dcc.Link(found.dataset, href=common.link(query, common.dataset_path(found.dataset)))
    facts = [("Dataset", dataset), ("Minimum pass rate", min_pass_rate_text(found.min_pass_rate)),
             ("Alerts go to", channels_text(found.channels, channels))]
    rows = [html.Tr([html.Th(label), html.Td(value)]) for label, value in facts]
    return html.Div([html.Table(html.Tbody(rows), className="fields"), targets_table(found)],
                    id="regression-summary")


def targets_table(found: RegressionSet) -> Any:
    if not found.targets:
        return html.P("No targets: a model change is run only for a requested model with a target.",
                      className="muted")
    rows = [html.Tr([html.Td(html.Code(model)), html.Td(target.get("endpoint", fmt.MISSING)),
                     html.Td(target.get("model", model)), html.Td(target.get("api_key_env") or "no key"),
                     html.Td(_more_text(target), className="muted")], className="regression-target-row")
            for model, target in found.targets.items()]
    return table(("Requested model", "Endpoint", "Model asked", "Key variable", "Prompt and parameters"), rows,
                 "regression-targets-table")


def min_pass_rate_text(rate: float | None) -> str:
    if rate is None:
        return "none: only a significantly worse pass rate fails the gate"
    return fmt.pct(rate)


def channels_text(chosen: list[int] | None, names: dict[int, str]) -> str:
    if chosen is None:
        return "every channel of the project"
    if not chosen:
        return "no channel: the incident only (Alerts page)"
    return ", ".join(f"#{i} {names.get(i, '(deleted)')}" for i in chosen)


def _more_text(target: dict[str, Any]) -> str:
    parts = [f"{MORE[name][0].split(' (')[0].lower()}: {target[name]}" for name in MORE if name in target]
    return "; ".join(parts) or fmt.MISSING


# --- the runs ------------------------------------------------------------------------------------


def runs(ctx: UiContext, query: PageQuery) -> Any:
    """The newest runs the regression job started, each with its experiment's state and its gate."""
    recorded = RegressionStore(ctx.metadata).runs(query.project)
    if not recorded:
        return html.P("No regression runs yet: the first comes when a set is saved (a baseline of the version "
                      "served today), then one per model change.", className="muted", id="regression-runs-empty")
    store = ExperimentStore(ctx.metadata)
    experiments = {e["name"]: e for e in store.list_experiments(query.project)}
    rows = [_run_row(query, store, run, experiments) for run in recorded[:RUNS_SHOWN]]
    more = [html.P(f"The newest {RUNS_SHOWN} of {len(recorded)}; every one is in Evaluations, Experiments "
                   "(named regression-…).", className="muted")] if len(recorded) > RUNS_SHOWN else []
    return [table(RUN_HEAD, rows, "regression-runs-table"), *more]


def _run_row(query: PageQuery, store: ExperimentStore, run: dict[str, Any],
             experiments: dict[str, dict[str, Any]]) -> Any:
    experiment = experiments.get(run["experiment"])
    summary = summarize(store.results(query.project, run["experiment"])) \
        if experiment and common.finished(experiment) else None
    baseline = run["baseline"]
    cells = [_experiment_link(query, run["experiment"], experiment), html.Code(run["model"]), _change(run),
             fmt.when(run["created_at"], zone=False), _run_state(run, experiment),
             fmt.pct(summary["pass_rate"]) if summary else fmt.MISSING, _gate(run, experiment),
             _experiment_link(query, baseline, experiments.get(baseline)) if baseline else fmt.MISSING,
             _incident(query, run)]
    verdict = {True: "passed", False: "failed"}.get(run["passed"], "pending")
    return html.Tr([html.Td(cell) for cell in cells], className=f"regression-run {verdict}")


def _experiment_link(query: PageQuery, name: str, experiment: dict[str, Any] | None) -> Any:
    if experiment is None:
        return html.Span(name, className="muted", title="no such experiment (never started, or deleted)")
    return dcc.Link(name, href=common.link(query, common.experiment_path(name)))


def _change(run: dict[str, Any]) -> Any:
    if run["kind"] == BASELINE:
        return html.Span("baseline: the version served today", className="muted")
    return html.Div([html.Div([html.Code(run["from"] or "?"), " →"]), html.Div(html.Code(run["to"] or "?")),
                     html.Div(f"changed {fmt.when(run['changed_at'])}", className="muted")])


def _run_state(run: dict[str, Any], experiment: dict[str, Any] | None) -> Any:
    if run["start_error"]:
        return html.Span("could not start", className="error", title=run["start_error"])
    return common.status_cell(experiment) if experiment else html.Span("gone", className="muted")


def _gate(run: dict[str, Any], experiment: dict[str, Any] | None) -> Any:
    if run["passed"] is None:
        waiting = experiment is not None and experiment["status"] == "running"
        return html.Span("waits for the run" if waiting else "gated on the job's next pass", className="muted")
    verdict = html.Strong("passed" if run["passed"] else "failed", className="ok" if run["passed"] else "error")
    reasons = [html.Li(reason) for reason in run["reasons"]]
    return [verdict, html.Ul(reasons, className="regression-reasons")] if reasons else verdict


def _incident(query: PageQuery, run: dict[str, Any]) -> Any:
    if run["incident_id"] is None:
        return fmt.MISSING
    return dcc.Link(f"#{run['incident_id']}", href=query.link("/alerts"), title="the incident, on the Alerts page")
