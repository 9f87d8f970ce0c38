"""The table every page draws: a header row of labels over rows the page builds (html.Tr)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from dash import html


def table(head: Iterable[str], rows: list[Any], table_id: str, class_name: str = "table") -> Any:
    return html.Table([html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(rows)], className=class_name,
                      id=table_id)
