"""When the hallucination scorer ran and runs next, and "run now" for admins, on the Quality page.

A page with calls but no scores is almost always one the scorer has not reached yet (it runs every
few minutes, the first time when the service starts), not a missing sample rate: saying when it
runs next, and offering to run it, answers the question the empty chart raises. "Run now" goes
through the runner POST /api/v1/detectors/run uses, and checks the role in its callback.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from dash import html

from dashboard.ui import format as fmt
from dashboard.ui.context import UiContext
from dashboard.ui.forms import refused
from detectors.runner import TRIGGER_SCHEDULE
from schemas.metadata.runs import RunLog

DETECTOR = "hallucination"
RUN_REFUSED = "Running the scorer needs the admin role."


def scorer_status(ctx: UiContext, ran: str = "") -> Any:
    """A line on the scorer's last and next run, with the "run now" button for admins (`ran`: what a
    click on it just did)."""
    parts: list[Any] = [html.Span(describe_runs(ctx), id="quality-scorer-next")]
    if ctx.detectors is not None and DETECTOR in ctx.detectors.names and not refused(ctx):
        parts.append(html.Button("Run now", id="quality-run-now", n_clicks=0, className="button small"))
    parts.append(html.Span(ran, id="quality-run-answer", className="error" if ran == RUN_REFUSED else "ok"))
    return html.Div(parts, className="quality-scorer", id="quality-scorer")


def describe_runs(ctx: UiContext) -> str:
    """The last run and, from the last scheduled one, the next: a manual run leaves the schedule as it was."""
    runs = RunLog(ctx.metadata).recent(DETECTOR, 20)
    interval = _interval(ctx)
    said = "Hallucination scorer: "
    if runs:
        said += f"last run {fmt.when(runs[0].started_at)}" + (" (failed)" if runs[0].outcome == "error" else "")
    else:
        said += "not run yet"
    if interval is None:
        return said + "; it runs in the detectors process."
    scheduled = next((r for r in runs if r.trigger == TRIGGER_SCHEDULE), None)
    if scheduled is None:
        return said + f"; no scheduled run yet (every {_every(interval)} while detectors run)."
    due = scheduled.started_at.replace(tzinfo=scheduled.started_at.tzinfo or UTC) + timedelta(seconds=interval)
    when = "due now" if due <= datetime.now(UTC) else f"about {fmt.when(due)}"
    return said + f"; next scheduled run {when} (every {_every(interval)})."


def run_scorer(ctx: UiContext) -> str:
    """Run the scorer now, as POST /api/v1/detectors/run does; the outcome in a sentence."""
    if refused(ctx):
        return RUN_REFUSED
    if ctx.detectors is None:
        return "Detectors run in another process here: use POST /api/v1/detectors/run there."
    (outcome,) = ctx.detectors.run_many([DETECTOR])
    if outcome.outcome != "ok":
        said = "Scorer not run" if outcome.outcome == "skipped" else "Scorer run failed"
        return f"{said}: {outcome.result.message or outcome.outcome}"
    # its count is this run's new scores, over every project; the page counts all in its range
    return f"Scorer ran: {outcome.result.message} (new scores, all projects; the page above counts every score)"


def _interval(ctx: UiContext) -> float | None:
    if ctx.detectors is None or DETECTOR not in ctx.detectors.names:
        return None
    return float(ctx.detectors.detectors[DETECTOR].interval)


def _every(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"
