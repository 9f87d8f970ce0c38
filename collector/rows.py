"""Building `spans` rows, the writer's stage: decode → normalize → price.

The pipeline only checks and spools a request before acknowledging it; the rows are built
later, on the writer's thread, from the checked body (`WriteItem.make_rows`), so the ack never
waits for the costlier conversion of every attribute.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, Protocol

from collector.check import CheckedTraces
from collector.counts import DEFAULT_MAX_COUNT
from collector.decode import decode_checked_traces
from collector.normalize import normalize_span
from collector.pricing import PriceBook, price_row

Rows = list[dict[str, Any]]


class PriceBooks(Protocol):
    """Where the current prices come from (`pipeline.PriceBookSource`)."""

    def current(self) -> PriceBook: ...


class SpanRowBuilder:
    """Turns a checked trace body into priced `spans` rows: decode → normalize → price."""

    def __init__(self, prices: PriceBooks, *, max_value_chars: int,
                 max_tokens_per_call: int = DEFAULT_MAX_COUNT) -> None:
        self.prices = prices
        self.max_value_chars = max_value_chars
        self.max_tokens_per_call = max_tokens_per_call

    def recipe(self, project: str, checked: CheckedTraces) -> Callable[[], Rows]:
        """The deferred build of one request's rows, for the writer to run when it batches them."""
        return partial(self.build_rows, project, checked)

    def build_rows(self, project: str, checked: CheckedTraces) -> Rows:
        book = self.prices.current()
        rows = []
        for span in decode_checked_traces(checked).spans:
            row = normalize_span(span, project, self.max_value_chars, self.max_tokens_per_call)
            price_row(row, book)
            rows.append(row)
        return rows
