"""GET /api/v1/users/<user_id> and GET /api/v1/sessions/<session_id>: browsing by user and by
conversation (issue #25). Both read a bounded window (default the last 7 days, at most 92): the
spans table has no index on either id, so the window is what keeps a read to a few partitions."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, jsonify

from dashboard.conversations import session_report, user_report
from dashboard.params import PROJECT, WINDOW, ApiError, choice_arg, project_arg, takes, time_range
from schemas.clickhouse.store import Store
from schemas.metadata.store import Metadata

DEFAULT_WINDOW = timedelta(days=7)
MAX_WINDOW = timedelta(days=92)
MAX_ID = 512  # longer is not an id an app sets


def create_conversations_blueprint(store: Store, metadata: Metadata) -> Blueprint:
    api = Blueprint("conversations_api", __name__, url_prefix="/api/v1")

    @api.get("/users/<path:user_id>")  # an app's id may hold a slash (sent as %2F)
    @takes(PROJECT, WINDOW, ("bucket",))
    def user(user_id: str) -> Any:
        start, end = bounded_window()
        bucket = choice_arg("bucket", ("hour", "day"), None) or series_bucket(start, end)
        return jsonify(user_report(store, project_arg(metadata), checked_id(user_id, "user id"), start, end, bucket))

    @api.get("/sessions/<path:session_id>")
    @takes(PROJECT, WINDOW)
    def session(session_id: str) -> Any:
        start, end = bounded_window()
        return jsonify(session_report(store, project_arg(metadata), checked_id(session_id, "session id"), start, end))

    return api


def bounded_window() -> tuple[datetime, datetime]:
    start, end = time_range(DEFAULT_WINDOW)
    if end - start > MAX_WINDOW:
        raise ApiError(400, f"from..to spans at most {MAX_WINDOW.days} days here, got {(end - start).days}; "
                            "narrow from or to")
    return start, end


def series_bucket(start: datetime, end: datetime) -> str:
    """Hours up to 8 days, then days: a readable number of points either way."""
    return "hour" if end - start <= timedelta(days=8) else "day"


def checked_id(value: str, name: str) -> str:
    if not value.strip() or len(value) > MAX_ID:
        raise ApiError(400, f"{name} must be 1 to {MAX_ID} characters, got {len(value)}")
    return value
