"""The copy of a span's facts on its evaluation rows holds the column of every filter it claims to answer."""

from __future__ import annotations

from schemas.clickhouse.filters import DIMENSIONS, TAGS_COLUMN
from schemas.clickhouse.span_facts import COPIED_FILTERS, FACT_COLUMNS


def test_every_copied_filter_s_column_is_on_the_evaluation_row() -> None:
    on_row = {*FACT_COLUMNS, "request_model"}  # the requested model was on the row before the copy
    for name in COPIED_FILTERS:
        column = TAGS_COLUMN if name == "tag" else DIMENSIONS[name]
        assert column in on_row, name


def test_a_filter_without_a_copied_column_is_not_claimed() -> None:
    assert "signal" not in COPIED_FILTERS  # its columns live on spans only: such comparisons look scores up
