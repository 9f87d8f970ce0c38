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

from schemas.models import DEFAULT_PROJECT

RANGES = {"1h": timedelta(hours=1), "24h": timedelta(days=1), "7d": timedelta(days=7), "30d": timedelta(days=30)}
FILTERS = ("model", "service", "environment", "user")


@dataclass(frozen=True)
class PageQuery:
    """The URL's query string, parsed once: project, time range and filters."""

    project: str
    range: str
    start: datetime
    end: datetime
    filters: dict[str, str]
    raw: dict[str, str]

    def link(self, path: str, **changes: str) -> str:
        values = {**self.raw, **changes}
        return path + ("?" + urlencode({k: v for k, v in values.items() if v}) if values else "")

    def current(self, name: str) -> str:
        """A parameter's effective value: the project defaults to `default`, the rest to empty."""
        return self.project if name == "project" else self.raw.get(name, "")


def parse_query(search: str | None, now: datetime | None = None) -> PageQuery:
    raw = {k: v[-1] for k, v in parse_qs((search or "").lstrip("?")).items()}
    end = now or datetime.now(UTC)
    span = RANGES.get(raw.get("range", "24h"), RANGES["24h"])
    filters = {k: raw[k] for k in FILTERS if raw.get(k)}
    return PageQuery(raw.get("project") or DEFAULT_PROJECT, raw.get("range", "24h"), end - span, end, filters, raw)


def search_with(search: str | None, changes: Mapping[str, str], *, resets: Sequence[str] = ()) -> str:
    """The query string with `changes` applied (and `resets` cleared), for a callback that writes
    the URL; PreventUpdate when no change differs, so an unchanged filter never re-renders the page."""
    query = parse_query(search)
    if all(value == query.current(name) for name, value in changes.items()):
        raise PreventUpdate
    return query.link("", **changes, **dict.fromkeys(resets, ""))
