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
from schemas.fields import INGEST_KEY_ATTRIBUTE, RESOURCE_ATTRIBUTES

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

    def recipe(self, project: str, checked: CheckedTraces, ingest_key: str = "") -> Callable[[], Rows]:
        """The deferred build of one request's rows, for the writer to run when it batches them."""
        return partial(self.build_rows, project, checked, ingest_key)

    def build_rows(self, project: str, checked: CheckedTraces, ingest_key: str = "") -> Rows:
        book = self.prices.current()
        rows = []
        for span in decode_checked_traces(checked).spans:
            row = normalize_span(span, project, self.max_value_chars, self.max_tokens_per_call)
            price_row(row, book)
            mark_ingest_key(row, ingest_key)
            rows.append(row)
        return rows


def mark_ingest_key(row: dict[str, Any], ingest_key: str) -> None:
    """Record which ingest key sent the span (its id) in the row's own resource map (each row has a
    copy); whatever the app put under that name is dropped, so it cannot claim another key's spend."""
    resource = row[RESOURCE_ATTRIBUTES]
    if ingest_key:
        resource[INGEST_KEY_ATTRIBUTE] = ingest_key
    else:
        resource.pop(INGEST_KEY_ATTRIBUTE, None)
