"""Incidents: state, timeline and deliveries, with acknowledge and silence for whoever is on call.

Acknowledging and silencing are open to every signed-in user, as in the API: the person paged
is not always an admin.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from dash import ALL, Dash, Input, Output, State, html, no_update
from dash.exceptions import PreventUpdate

from dashboard.auth import current_user
from dashboard.ui import format as fmt
from dashboard.ui.context import UiContext
from dashboard.ui.forms import clicked_id, error, ok
from dashboard.ui.tables import table
from detectors.alerts.service import ActionRefused, acknowledge_incident, silence_incident
from schemas.metadata.models import utcnow

SILENCE_FOR = timedelta(hours=1)
SHOWN = 100


def section(ctx: UiContext, project: str) -> Any:
    return html.Section([
        html.H2("Incidents"), html.Div(id="incident-message", className="message"),
        html.Div(incident_table(ctx, project), id="incidents-list"),
    ])


def register(app: Dash, ctx: UiContext) -> None:
    @app.callback(Output("incident-message", "children"), Output("incidents-list", "children"),
                  Input({"type": "incident-ack", "id": ALL}, "n_clicks"),
                  Input({"type": "incident-silence", "id": ALL}, "n_clicks"),
                  State("alerts-project", "data"), prevent_initial_call=True)
    def act(acks: list[int | None], silences: list[int | None], project: str) -> tuple[Any, Any]:
        ack_id, silence_id = clicked_id("incident-ack"), clicked_id("incident-silence")
        if ctx.alerts is None or (ack_id is None and silence_id is None):
            raise PreventUpdate
        now = utcnow()
        try:
            if ack_id is not None:
                acknowledge_incident(ctx.alerts, project, ack_id, current_user() or "dashboard", now)
                answer = ok(f"Incident {ack_id} acknowledged: no re-notifications until it resolves.",
                            "incident-acked")
            else:
                assert silence_id is not None
                silence_incident(ctx.alerts, project, silence_id, now + SILENCE_FOR, now)
                answer = ok(f"Incident {silence_id} silenced until {fmt.when(now + SILENCE_FOR)}.",
                            "incident-silenced")
        except ActionRefused as exc:
            return error(exc.message, "incident-error"), no_update
        return answer, incident_table(ctx, project)


def incident_table(ctx: UiContext, project: str) -> Any:
    assert ctx.alerts is not None
    incidents = ctx.alerts.list_incidents(project, None, SHOWN)
    if not incidents:
        return html.P("No incidents: rules below open one when their condition holds.")
    names = {c["id"]: c["name"] for c in ctx.alerts.list_channels(project)}
    head = ("#", "Alert", "Severity", "State", "Started (UTC)", "Timeline", "Deliveries", "")
    rows = [html.Tr([html.Td(i["id"]), html.Td(i["title"]), html.Td(i["severity"], className=f"sev-{i['severity']}"),
                     html.Td(_state(i)), html.Td(fmt.when(i["started_at"], zone=False)),
                     html.Td(_timeline(i["history"])),
                     html.Td(_deliveries(i["deliveries"], names)), html.Td(_actions(i))],
                    className=f"incident incident-{i['state']}") for i in incidents]
    return table(head, rows, "incidents")


def _state(incident: dict[str, Any]) -> Any:
    parts = [html.Strong(incident["state"])]
    if incident["acknowledged_at"] and incident["state"] != "resolved":
        parts.append(html.Div(f"acknowledged {fmt.when(incident['acknowledged_at'])}", className="muted"))
    if incident["silenced_until"] and incident["state"] != "resolved":
        parts.append(html.Div(f"silenced until {fmt.when(incident['silenced_until'])}", className="muted"))
    return parts


# How a timeline event's kind reads; a rule with no channels still records its notifications (the
# Deliveries column says none went out).
EVENT_WORDS = {"notified:trigger": "notified", "notified:renotify": "notified again",
               "notified:resolve": "all-clear sent"}


def _timeline(history: list[dict[str, Any]]) -> Any:
    return html.Ol([html.Li([html.Span(EVENT_WORDS.get(h["kind"], h["kind"]), className="kind"), " ",
                             html.Small(fmt.when(h["at"])),
                             html.Small(f" {h['note']}" if h["note"] else "")]) for h in history],
                   className="timeline")


def _deliveries(deliveries: list[dict[str, Any]], names: dict[int, str]) -> Any:
    if not deliveries:
        return fmt.MISSING
    return html.Ul([_delivery(d, names.get(d["channel_id"]) or f"channel {d['channel_id']}") for d in deliveries],
                   className="deliveries")


def _delivery(delivery: dict[str, Any], channel: str) -> Any:
    status = delivery["status"]
    reason = f" ({delivery['error']})" if delivery["error"] else ""
    tone = "ok" if status == "sent" else "err" if status == "failed" else ""
    return html.Li(f"{delivery['event']} → {channel}: {status}{reason}", className=tone)


def _actions(incident: dict[str, Any]) -> Any:
    if incident["state"] == "resolved":
        return ""
    buttons = []
    if incident["state"] == "firing" and not incident["acknowledged_at"]:
        buttons.append(html.Button("ack", id={"type": "incident-ack", "id": incident["id"]}, className="link"))
    buttons.append(html.Button("silence 1h", id={"type": "incident-silence", "id": incident["id"]},
                               className="link"))
    return buttons
