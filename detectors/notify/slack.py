"""A `Notification` as a Slack incoming-webhook message (Block Kit).

Layout: a header (emoji + state + rule name), a section with the one-line summary and a link
to the dashboard, a section of fields (value against threshold, severity, window, scope,
project, start), and a context line inside a coloured attachment, because Block Kit itself has
no colour and a short secondary attachment is the one place Slack still draws the side bar.

The dashboard link is a mrkdwn link rather than a button: incoming webhooks have no
interactivity endpoint, and Slack flags clicks on buttons that nobody acknowledges.
Every user-supplied string placed in mrkdwn is escaped (`&`, `<`, `>`) so a rule named
`<!channel>` cannot ping a channel or forge a link; every text is clipped to its Block Kit limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from detectors.notify.message import (
    EVENT_LABELS,
    Notification,
    as_utc,
    clip,
    format_condition,
    format_scope,
    iso_utc,
)

HEADER_LIMIT = 150  # header block: plain_text
SECTION_TEXT_LIMIT = 3000
FIELD_LIMIT = 2000  # each of a section's fields
FIELDS_MAX = 10
LINK_LIMIT = 2000  # a dashboard link longer than this is dropped rather than crowd out the summary
FALLBACK_LIMIT = 3000  # top-level `text`: shown in notifications, parsed as mrkdwn
_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


@dataclass(frozen=True)
class EventStyle:
    emoji: str
    color: str


EVENT_STYLES = {
    "firing": EventStyle(":rotating_light:", "#E01E5A"),
    "resolved": EventStyle(":white_check_mark:", "#2EB67D"),
    "test": EventStyle(":test_tube:", "#1D9BD1"),
}


def slack_payload(n: Notification) -> dict[str, Any]:
    """The JSON body to POST to a Slack incoming webhook URL."""
    style = EVENT_STYLES[n.event]
    return {
        "text": _fallback_text(n, style),
        "blocks": [_header_block(n, style), _summary_block(n), _fields_block(n)],
        "attachments": [{"color": style.color, "blocks": [_context_block(n)]}],
    }


def escape_mrkdwn(text: str) -> str:
    """Slack's three control characters as HTML entities (and nothing else, as Slack asks)."""
    return "".join(_ESCAPES.get(char, char) for char in text)


def escape_within(text: str, limit: int) -> str:
    """Escape, then clip to `limit` without ever cutting an entity such as `&amp;` in half."""
    escaped = escape_mrkdwn(text)
    if len(escaped) <= limit:
        return escaped
    pieces, size = [], 1  # room for the ellipsis
    for char in text:
        piece = _ESCAPES.get(char, char)
        if size + len(piece) > limit:
            break
        pieces.append(piece)
        size += len(piece)
    return "".join(pieces) + "…"


def _fallback_text(n: Notification, style: EventStyle) -> str:
    line = f"{style.emoji} {EVENT_LABELS[n.event]}: {n.rule_name} ({n.project}): {format_condition(n)}"
    return escape_within(line, FALLBACK_LIMIT)


def _header_block(n: Notification, style: EventStyle) -> dict[str, Any]:
    """plain_text is shown verbatim (no mrkdwn parsing), so it is clipped but not escaped."""
    text = clip(f"{style.emoji} {EVENT_LABELS[n.event]}: {n.rule_name}", HEADER_LIMIT)
    return {"type": "header", "text": {"type": "plain_text", "text": text, "emoji": True}}


def _summary_block(n: Notification) -> dict[str, Any]:
    link = _link(n.dashboard_url, "Open in llmpulse")
    budget = SECTION_TEXT_LIMIT - len(link) - 1
    text = escape_within(n.summary or format_condition(n), budget)
    return {"type": "section", "text": {"type": "mrkdwn", "text": f"{text}\n{link}".strip()}}


def _fields_block(n: Notification) -> dict[str, Any]:
    fields = [
        _field("Value", format_condition(n)),
        _field("Severity", n.severity),
        _field("Metric", n.metric),
        _field("Window", n.window),
        _field("Scope", format_scope(n.scope)),
        _field("Project", n.project),
        _field("Started", _slack_date(n), escaped=True),
    ]
    return {"type": "section", "fields": fields[:FIELDS_MAX]}


def _field(label: str, value: str, *, escaped: bool = False) -> dict[str, str]:
    """A bold label over its value; `escaped` values are already valid mrkdwn."""
    head = f"*{label}*\n"
    body = clip(value, FIELD_LIMIT - len(head)) if escaped else escape_within(value, FIELD_LIMIT - len(head))
    return {"type": "mrkdwn", "text": head + body}


def _context_block(n: Notification) -> dict[str, Any]:
    text = escape_within(f"llmpulse · incident {n.incident_id} · rule {n.rule_name}", SECTION_TEXT_LIMIT)
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def _slack_date(n: Notification) -> str:
    """Slack renders `<!date^…>` in each reader's own time zone; the ISO text is its fallback."""
    unix = int(as_utc(n.started_at).timestamp())
    return f"<!date^{unix}^{{date_short_pretty}} {{time}}|{iso_utc(n.started_at)}>"


def _link(url: str, label: str) -> str:
    """A mrkdwn link, or nothing without a URL (or with one too long to leave room for the text).

    `|` would end the URL early, so it is percent-encoded.
    """
    link = f"<{escape_mrkdwn(url).replace('|', '%7C')}|{escape_mrkdwn(label)}>"
    return link if url and len(link) <= LINK_LIMIT else ""
