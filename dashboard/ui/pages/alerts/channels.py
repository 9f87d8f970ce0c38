"""Channels: add Slack, PagerDuty or a signed webhook, send a test, read the delivery log.

Secrets (webhook URLs, routing keys, signing secrets) are sealed when saved and never shown
again: the table names the target's host only. "Send test" waits a few seconds for the real
delivery (with the shorter retry policy a person waiting on a button deserves) and says what the
endpoint answered; when it has not answered yet, the page says so and polls the delivery log until
it has, so a hung endpoint never holds a UI thread.
"""

from __future__ import annotations

from typing import Any

from dash import ALL, Dash, Input, Output, State, dcc, html, no_update
from dash.exceptions import PreventUpdate

from dashboard.ui import format as fmt
from dashboard.ui.context import UiContext
from dashboard.ui.forms import clicked, clicked_id, error, field, input_error, ok, read_only, refused
from dashboard.ui.pages.alerts.rules import channel_options
from dashboard.ui.tables import table
from detectors.alerts.channels import CHANNEL_TYPES, ChannelError, parse_channel
from detectors.alerts.service import ActionRefused, delete_channel, send_test

ADMIN_ONLY = "Changing channels needs the admin role."
LOG_SHOWN = 20
POLL_MS = 1000  # how often a pending test send's outcome is looked up
HIDDEN, SHOWN = {"display": "none"}, {}
SECRET_INPUTS = ("channel-url", "channel-routing-key", "channel-secret")  # cleared once saved
URL_HINTS = {"slack": "https://hooks.slack.com/services/…",
             "pagerduty": "optional: the Events v2 URL (defaults to PagerDuty's)",
             "webhook": "https://example.com/llmpulse-alerts"}


def section(ctx: UiContext, project: str) -> Any:
    """The channels and their delivery log; for an admin the form and each row's test and delete buttons,
    for a viewer a line saying who may change them."""
    admin = not refused(ctx)
    parts = [html.H2("Channels"), html.Div(channel_table(ctx, project, admin), id="channels-list")]
    if admin:
        parts += [html.Div(id="channel-message", className="message"), dcc.Store(id="channel-test-pending"),
                  dcc.Interval(id="channel-test-poll", interval=POLL_MS, disabled=True),
                  html.H3("New channel"), _form(), html.Div(id="channel-create-message", className="message")]
    else:
        parts.append(read_only(ADMIN_ONLY, "channels-read-only"))
    return html.Section([*parts, html.H3("Delivery log"), html.Div(delivery_log(ctx, project), id="delivery-log")])


def register(app: Dash, ctx: UiContext) -> None:
    @app.callback(Output("channel-routing-key-field", "style"), Output("channel-secret-field", "style"),
                  Output("channel-url", "placeholder"), Input("channel-type", "value"))
    def show_fields(kind: str) -> tuple[Any, Any, str]:
        return (SHOWN if kind == "pagerduty" else HIDDEN, SHOWN if kind == "webhook" else HIDDEN,
                URL_HINTS.get(kind, ""))

    @app.callback(Output("channel-create-message", "children"), Output("channel-message", "children"),
                  Output("channels-list", "children"), Output("delivery-log", "children"),
                  Output("rule-channels", "options"), Output("budget-channels", "options"),
                  Output("channel-test-pending", "data"), *(Output(name, "value") for name in SECRET_INPUTS),
                  Input("channel-create", "n_clicks"), Input({"type": "channel-test", "id": ALL}, "n_clicks"),
                  Input({"type": "channel-delete", "id": ALL}, "n_clicks"),
                  State("alerts-project", "data"), State("channel-type", "value"), State("channel-name", "value"),
                  *(State(name, "value") for name in SECRET_INPUTS), prevent_initial_call=True)
    def change_channels(create: int | None, tests: list[int | None], deletes: list[int | None], project: str,
                        *fields: Any) -> tuple[Any, ...]:
        test_id, delete_id = clicked_id("channel-test"), clicked_id("channel-delete")
        creating = test_id is None and delete_id is None and clicked()
        if ctx.alerts is None or not (creating or test_id is not None or delete_id is not None):
            raise PreventUpdate
        keep = (no_update,) * len(SECRET_INPUTS)
        if refused(ctx):
            refusal = error(ADMIN_ONLY, "channel-error")
            return (refusal if creating else no_update, no_update if creating else refusal, *(no_update,) * 5, *keep)
        created, answer, pending, inputs = no_update, no_update, no_update, keep
        if creating:
            created, saved = _create(ctx, project, *fields)
            inputs = ("",) * len(SECRET_INPUTS) if saved else keep  # a saved secret leaves the page
        elif test_id is not None:
            answer, pending = _test(ctx, project, test_id)
        else:
            answer = _delete(ctx, project, delete_id)
        options = channel_options(ctx, project)
        return (created, answer, channel_table(ctx, project, True), delivery_log(ctx, project), options, options,
                pending, *inputs)

    @app.callback(Output("channel-test-poll", "disabled"), Input("channel-test-pending", "data"))
    def poll_while_pending(pending: dict[str, int] | None) -> bool:
        return not pending

    @app.callback(Output("channel-message", "children", allow_duplicate=True),
                  Output("delivery-log", "children", allow_duplicate=True),
                  Output("channel-test-pending", "data", allow_duplicate=True),
                  Input("channel-test-poll", "n_intervals"), State("channel-test-pending", "data"),
                  State("alerts-project", "data"), prevent_initial_call=True)
    def show_test_outcome(_: int, pending: dict[str, int] | None, project: str) -> tuple[Any, Any, Any]:
        """One short read a tick: the delivery log says when the pending test has its answer."""
        if ctx.alerts is None or not pending:
            raise PreventUpdate
        delivery = _find_delivery(ctx, project, pending["channel"], pending["delivery"])
        if delivery is not None and delivery["status"] == "pending":
            return no_update, delivery_log(ctx, project), no_update
        return _delivery_message(pending["channel"], delivery), delivery_log(ctx, project), None


def _create(ctx: UiContext, project: str, kind: Any, name: Any, url: Any, routing_key: Any,
            secret: Any) -> tuple[Any, bool]:
    assert ctx.alerts is not None
    payload = {"type": kind, "name": name, "url": url or None}
    if kind == "pagerduty":
        payload["routing_key"] = routing_key
    if kind == "webhook" and secret:
        payload["secret"] = secret
    try:
        spec = parse_channel(payload)
    except ChannelError as exc:
        return input_error(exc, "channel-error"), False
    channel_id = ctx.alerts.create_channel(project, spec.type, spec.name, spec.secrets, spec.hint)
    return ok(f"Channel {channel_id} ({spec.type}: {spec.name}) added: send it a test from the table.",
              "channel-created"), True


def _test(ctx: UiContext, project: str, channel_id: int) -> tuple[Any, Any]:
    """The message to show, and what to poll for (None when the outcome is already known)."""
    if ctx.alerting is None:
        return error("Alerting is not configured in this process.", "channel-error"), None
    try:
        outcome = send_test(ctx.alerting, project, channel_id)
    except ActionRefused as exc:
        return error(exc.message, "channel-error"), None
    result = outcome.result
    if result is None:
        message = (f"Test to channel {channel_id} sent (delivery {outcome.delivery_id}); the endpoint has not "
                   "answered yet: its outcome shows here and in the delivery log when it does.")
        return html.Span(message, id="channel-test-in-flight"), {"channel": channel_id, "delivery": outcome.delivery_id}
    return _test_message(channel_id, result.ok, result.status, result.attempts, result.error), None


def _test_message(channel_id: int, delivered: bool, status: int | None, attempts: int, why: str) -> Any:
    tries = f"{attempts} attempt" + ("s" if attempts != 1 else "")
    if delivered:
        return ok(f"Test delivered to channel {channel_id}: HTTP {status}, {tries}.", "channel-test-ok")
    answer = f"HTTP {status}" if status else "no answer"
    return error(f"Test to channel {channel_id} failed: {answer}, {tries}: {why}", "channel-test-failed")


def _find_delivery(ctx: UiContext, project: str, channel_id: int, delivery_id: int) -> dict[str, Any] | None:
    assert ctx.alerts is not None
    return next((d for d in ctx.alerts.list_deliveries(project, channel_id, LOG_SHOWN) if d["id"] == delivery_id),
                None)


def _delivery_message(channel_id: int, delivery: dict[str, Any] | None) -> Any:
    if delivery is None:  # the channel was deleted meanwhile, or many deliveries came after it
        return error(f"The test to channel {channel_id} is no longer in its delivery log.", "channel-error")
    return _test_message(channel_id, delivery["status"] == "sent", delivery["http_status"], delivery["attempts"],
                         delivery["error"])


def _delete(ctx: UiContext, project: str, channel_id: int | None) -> Any:
    assert ctx.alerts is not None and channel_id is not None
    try:
        delete_channel(ctx.alerts, project, channel_id)
    except ActionRefused as exc:
        return error(f"Channel not deleted: {exc.message}.", "channel-error")
    return ok(f"Channel {channel_id} deleted.", "channel-deleted")


def _form() -> Any:
    return html.Div([
        field("Type", dcc.Dropdown(id="channel-type", options=list(CHANNEL_TYPES), value="slack", clearable=False)),
        field("Name", dcc.Input(id="channel-name", type="text", placeholder="on-call")),
        field("URL", dcc.Input(id="channel-url", type="url")),
        html.Div(field("Routing key", dcc.Input(id="channel-routing-key", type="password")),
                 id="channel-routing-key-field", style=HIDDEN),
        html.Div(field("Signing secret (optional)", dcc.Input(id="channel-secret", type="password")),
                 id="channel-secret-field", style=HIDDEN),
        html.Button("Add channel", id="channel-create", className="button"),
    ], className="form")


def channel_table(ctx: UiContext, project: str, admin: bool = False) -> Any:
    """The channels, secrets left out; an admin's rows carry their test and delete buttons."""
    assert ctx.alerts is not None
    channels = ctx.alerts.list_channels(project)
    if not channels:
        return html.P("No channels yet: incidents show here only." +
                      (" Add Slack, PagerDuty or a webhook below." if admin else ""))
    head = ("#", "Type", "Name", "Target")
    return table((*head, "") if admin else head, [_channel_row(c, admin) for c in channels], "channels")


def _channel_row(channel: dict[str, Any], admin: bool) -> Any:
    cells = [html.Td(channel["id"]), html.Td(channel["type"]), html.Td(channel["name"]),
             html.Td(html.Code(channel["target"]))]
    if admin:
        cells.append(html.Td([
            html.Button("send test", id={"type": "channel-test", "id": channel["id"]}, className="link"),
            html.Button("delete", id={"type": "channel-delete", "id": channel["id"]}, className="link")]))
    return html.Tr(cells)


def delivery_log(ctx: UiContext, project: str) -> Any:
    assert ctx.alerts is not None
    deliveries = ctx.alerts.list_deliveries(project, None, LOG_SHOWN)
    if not deliveries:
        return html.P("Nothing delivered yet.")
    names = {c["id"]: f"#{c['id']} {c['name']}" for c in ctx.alerts.list_channels(project)}
    head = ("Time (UTC)", "Channel", "Event", "Incident", "Status", "HTTP", "Attempts", "Error")
    rows = [html.Tr([html.Td(fmt.when(d["created_at"], zone=False)),
                     html.Td(names.get(d["channel_id"], f"#{d['channel_id']} (deleted)")), html.Td(d["event"]),
                     html.Td(d["incident_id"] or fmt.MISSING),
                     html.Td(d["status"], className={"sent": "ok", "failed": "err"}.get(d["status"], "")),
                     html.Td(d["http_status"] or fmt.MISSING), html.Td(d["attempts"]),
                     html.Td(d["error"] or "")]) for d in deliveries]
    return table(head, rows, "deliveries")
