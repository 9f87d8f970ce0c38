"""The URL's query string, which carries every page's project, time range and filters.

Pages read it through `parse_query`; callbacks that change a filter write it through
`search_with`, and the router re-renders the page from the new URL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlencode

from dash.exceptions import PreventUpdate

from dashboard.params import ApiError, parse_time
from dashboard.ui.charts import bucket_for
from schemas.metadata.models import DEFAULT_PROJECT

RANGES = {"1h": timedelta(hours=1), "24h": timedelta(days=1), "7d": timedelta(days=7), "30d": timedelta(days=30)}
DEFAULT_RANGE = "24h"
CUSTOM = "custom"  # `from` and `to` in the URL instead of a `range`
MAX_CUSTOM = timedelta(days=400)
FILTERS = ("model", "service", "environment", "user", "session", "tag", "signal")  # what metric queries filter by


@dataclass(frozen=True)
class PageQuery:
    """The URL's query string, parsed once: project, time range and filters."""

    project: str
    range: str
    start: datetime
    end: datetime
    filters: dict[str, str]
    raw: dict[str, str]
    notice: str = ""  # why the URL's range (custom or named) was not used

    @property
    def bucket(self) -> str:
        """The chart bucket that keeps a range readable (`charts.bucket_for`: 24h hourly, 30d daily)."""
        return bucket_for(self.start, self.end)

    def link(self, path: str, **changes: str) -> str:
        values = {**self.raw, **changes}
        return path + ("?" + urlencode({k: v for k, v in values.items() if v}) if values else "")

    def current(self, name: str) -> str:
        """A parameter's effective value: the project defaults to `default`, the rest to empty."""
        return self.project if name == "project" else self.raw.get(name, "")


def parse_query(search: str | None, now: datetime | None = None) -> PageQuery:
    raw = {k: v[-1] for k, v in parse_qs((search or "").lstrip("?")).items()}
    now = now or datetime.now(UTC)
    filters = {k: raw[k] for k in FILTERS if raw.get(k)}
    project = raw.get("project") or DEFAULT_PROJECT
    notice = ""
    if raw.get("from") or raw.get("to"):
        try:
            start, end = custom_range(raw.get("from", ""), raw.get("to", ""), now)
            return PageQuery(project, CUSTOM, start, end, filters, raw)
        except ValueError as exc:
            notice = f"Custom range not used: {exc}"
    key = raw.get("range", "")
    if key and key not in RANGES:
        notice = notice or f"range={key} is not one of {', '.join(RANGES)}: showing the last {DEFAULT_RANGE}"
    key = key if key in RANGES else DEFAULT_RANGE
    return PageQuery(project, key, now - RANGES[key], now, filters, raw, notice)


def custom_range(start_text: str, end_text: str, now: datetime) -> tuple[datetime, datetime]:
    """`from` and `to` as ISO-8601 (naive is UTC, as the UI shows times) or epoch seconds; `to` defaults to now."""
    try:
        end = parse_time(end_text, now, "to")
        start = parse_time(start_text, end - RANGES[DEFAULT_RANGE], "from")
    except ApiError as exc:
        raise ValueError(exc.message) from None
    if start >= end:
        raise ValueError(f"from ({start:%Y-%m-%d %H:%M}) must be before to ({end:%Y-%m-%d %H:%M})")
    if end - start > MAX_CUSTOM:
        raise ValueError(f"a range spans at most {MAX_CUSTOM.days} days")
    return start, end


def search_with(search: str | None, changes: Mapping[str, str], *, resets: Sequence[str] = ()) -> str:
    """The query string with `changes` applied (and `resets` cleared), for a callback that writes
    the URL; PreventUpdate when no change differs, so an unchanged filter never re-renders the page."""
    query = parse_query(search)
    if all(value == query.current(name) for name, value in changes.items()):
        raise PreventUpdate
    return query.link("", **changes, **dict.fromkeys(resets, ""))
