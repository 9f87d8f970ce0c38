"""The Alerts page's form that adds a guard, shown to admins only.

What it sends goes through the API's own path (`dashboard.api_guards.add_guard`: `parse_guard`,
then the status snapshot refreshed), so a refusal names the same field in the same words as
`POST /api/v1/guards` and `llmpulse guards create`, and a gateway sees the new guard at once.
Units are the API's: a rate threshold and a trickle fraction are fractions (0.5 for 50%).
"""

from __future__ import annotations

from typing import Any

from dash import dcc, html

from dashboard.api_guards import add_guard
from dashboard.guard_cache import GuardCache
from dashboard.ui.context import UiContext
from dashboard.ui.forms import error, field, input_error, number_in, ok, parse_pairs
from dashboard.ui.pages.alerts.rules import THRESHOLD_HINTS, channel_options, metric_options
from detectors.alerts.guard_rules import DEFAULT_COOLDOWN, DEFAULT_TRICKLE, GUARD_FILTER_KEYS
from detectors.alerts.rules import COMPARATORS, RATIO, AlertInputError, format_duration
from schemas.metadata.guard_store import GuardStore

# The form's controls, in the order `create` takes their values.
FORM = ("guard-name", "guard-metric", "guard-comparator", "guard-threshold", "guard-window", "guard-filters",
        "guard-cooldown", "guard-trickle-kind", "guard-trickle", "guard-channels")
CLEARED = ("guard-name", "guard-threshold", "guard-filters")  # once a guard is added
TRICKLE_KINDS = {"per_minute": "calls a minute", "fraction": "fraction of calls"}


def form(ctx: UiContext, project: str) -> Any:
    kind, number = DEFAULT_TRICKLE
    return html.Div([
        field("Name", dcc.Input(id="guard-name", type="text", placeholder="mini errors")),
        field("Metric", dcc.Dropdown(id="guard-metric", options=metric_options(),
                                     value="error_rate", clearable=False)),
        field("Opens when", dcc.Dropdown(id="guard-comparator", options=list(COMPARATORS), value=">",
                                         clearable=False)),
        field("Threshold", dcc.Input(id="guard-threshold", type="text", placeholder=THRESHOLD_HINTS[RATIO])),
        field("Window", dcc.Input(id="guard-window", type="text", value="5m")),
        field(f"Scope (optional: {', '.join(GUARD_FILTER_KEYS)})",
              dcc.Input(id="guard-filters", type="text", placeholder="model=gpt-4o-mini, user=u1")),
        field("Cool-down", dcc.Input(id="guard-cooldown", type="text",
                                     placeholder=f"{format_duration(DEFAULT_COOLDOWN)} (refusing before the trickle)")),
        field("Half-open trickle", html.Div([
            dcc.Input(id="guard-trickle", type="text", placeholder=f"{number:g}", className="guard-trickle"),
            dcc.Dropdown(id="guard-trickle-kind", options=[{"label": label, "value": value}
                                                           for value, label in TRICKLE_KINDS.items()],
                         value=kind, clearable=False, className="guard-trickle-kind"),
        ], className="guard-trickle-pair")),
        field("Notify", dcc.Dropdown(id="guard-channels", options=channel_options(ctx, project), multi=True,
                                     placeholder="channels (none: the incident list only)")),
        html.Button("Create guard", id="guard-create", className="button"),
    ], className="form")


def create(ctx: UiContext, project: str, name: Any, metric: Any, comparator: Any, threshold: Any, window: Any,
           filters: Any, cooldown: Any, trickle_kind: Any, trickle: Any, channels: Any) -> tuple[Any, bool]:
    """Add the guard as typed; (the answer to show, True when it was added)."""
    if ctx.alerting is None:
        return error("Alerting is not configured in this process.", "guard-error"), False
    try:
        body = {"name": name, "metric": metric, "comparator": comparator, "threshold": _typed(threshold),
                "window": window or None, "filters": parse_pairs(filters, "filters"),
                "cooldown": (cooldown or "").strip() or None, "channels": list(channels or []),
                "trickle": None if _typed(trickle) is None else {trickle_kind: _typed(trickle)}}
        guard_id, spec = add_guard(ctx.alerting, guard_cache(ctx), project, body)
    except AlertInputError as exc:
        return input_error(exc, "guard-error"), False
    return ok(f"Guard {guard_id} added: {spec['name']}. GET /api/v1/guard/status answers with it now.",
              "guard-created"), True


def guard_cache(ctx: UiContext) -> GuardCache:
    """The status snapshot the API answers from, so a change here reaches gateways at once; a page
    built without one (no status API in the process) refreshes a cache nobody reads, harmlessly."""
    return ctx.guards if ctx.guards is not None else GuardCache(GuardStore(ctx.metadata))


def _typed(text: Any) -> Any:
    """Blank is None (the API's default, or its "required"); else a number if it reads as one, or the
    text as typed for the API to refuse by name."""
    text = str(text).strip() if text is not None else ""
    return number_in(text) if text else None
