"""The "Download CSV" links of the pages: the read API's `format=csv` answer under the page's own
window and filters, so the file holds what the page shows (dashboard.csv_export)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode

from dash import html

from dashboard.ui.urls import PageQuery


def csv_href(path: str, params: Mapping[str, str | None]) -> str:
    """`path` under /api/v1 with `params` (empty ones left out) and format=csv."""
    kept = {name: value for name, value in params.items() if value}
    return f"/api/v1{path}?{urlencode({**kept, 'format': 'csv'})}"


def window_params(query: PageQuery, *names: str) -> dict[str, str]:
    """The page's project, its window as explicit times (a `range=24h` ends when the page was drawn),
    its filters, and the page parameters in `names` that the API takes too."""
    return {"project": query.project, "from": query.start.isoformat(), "to": query.end.isoformat(),
            **query.filters, **{name: query.raw.get(name, "") for name in names}}


def csv_link(href: str, link_id: str, title: str) -> Any:
    """A plain link (not dcc.Link: the browser downloads it, Dash's router must not take it)."""
    return html.A("Download CSV", href=href, id=link_id, className="download-csv", title=title)


def experiment_csv_href(project: str, name: str) -> str:
    return csv_href(f"/experiments/{quote(name, safe='')}", {"project": project})
