"""Links to a user's and a session's page, for every place that shows a user or session id.

A session link from a trace carries a window around that trace (a day either side), so the
session page finds the conversation however old the trace is; a user link keeps the page's range,
widened to take in the trace when it lies outside it. Ids are percent-encoded in the path: an app's
user id may hold a slash or a space.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, unquote

from dash import dcc, html

from dashboard.ui import format as fmt
from dashboard.ui.urls import PageQuery

USERS, SESSIONS = "/users/", "/sessions/"
SESSION_MARGIN = timedelta(days=1)
USER_LOOKBACK = timedelta(days=7)
WINDOW_FORMAT = "%Y-%m-%dT%H:%M"


def user_href(query: PageQuery, user_id: str, around: datetime | None = None) -> str:
    if around is None or query.start <= _utc(around) <= query.end:
        return query.link(USERS + quote(user_id, safe=""), span="")
    return _windowed(query, USERS + quote(user_id, safe=""), _utc(around) - USER_LOOKBACK,
                     _utc(around) + SESSION_MARGIN)


def session_href(query: PageQuery, session_id: str, around: datetime | None = None) -> str:
    path = SESSIONS + quote(session_id, safe="")
    if around is None:
        return query.link(path, span="")
    return _windowed(query, path, _utc(around) - SESSION_MARGIN, _utc(around) + SESSION_MARGIN)


def user_link(query: PageQuery, user_id: str | None, around: datetime | None = None, **props: Any) -> Any:
    """The id as a link to its page; a missing id as the missing mark."""
    if not user_id:
        return html.Span(fmt.MISSING)
    return dcc.Link(user_id, href=user_href(query, user_id, around), className="user-link", **props)


def session_link(query: PageQuery, session_id: str | None, around: datetime | None = None, **props: Any) -> Any:
    if not session_id:
        return html.Span(fmt.MISSING)
    return dcc.Link(session_id, href=session_href(query, session_id, around), className="session-link", **props)


def id_from_path(path: str, prefix: str) -> str | None:
    """The id a /users/… or /sessions/… path names (decoded), or None for a path with no page."""
    if not path.startswith(prefix) or len(path) == len(prefix) or "/" in path[len(prefix):]:
        return None
    return unquote(path[len(prefix):])


def _windowed(query: PageQuery, path: str, start: datetime, end: datetime) -> str:
    return query.link(path, range="", span="", **{"from": start.strftime(WINDOW_FORMAT),
                                         "to": end.strftime(WINDOW_FORMAT)})


def _utc(value: datetime | str) -> datetime:
    value = datetime.fromisoformat(value) if isinstance(value, str) else value
    return value if value.tzinfo else value.replace(tzinfo=UTC)
