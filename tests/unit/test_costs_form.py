"""The Costs page's price-override form: what it accepts and the messages for what it does not."""

from __future__ import annotations

from decimal import Decimal

import pytest

from dashboard.ui.pages.costs import PriceFormError, parse_price_form


def test_amounts_become_exact_decimals_and_cache_prices_are_optional() -> None:
    form = parse_price_form(" acme-* ", "", 0.1, 2, None, "")
    assert (form.model_pattern, form.provider) == ("acme-*", "")
    assert (form.input_per_mtok, form.output_per_mtok) == (Decimal("0.1"), Decimal(2))
    assert (form.cache_read_per_mtok, form.cache_write_per_mtok) == (None, None)
    assert parse_price_form("m", "openai", 0, 0, 0.05, 1).cache_read_per_mtok == Decimal("0.05")


@pytest.mark.parametrize(("fields", "field"), [
    (("", "", 1, 1, None, None), "model"),
    (("m", "", None, 1, None, None), "input"),
    (("m", "", 1, -0.5, None, None), "output"),
    (("m", "", 1, 1, "abc", None), "cache read"),
    (("m", "", 1, 1, None, 10**7), "cache write"),
    (("m" * 300, "", 1, 1, None, None), "model"),
])
def test_missing_negative_or_absurd_values_are_refused_with_the_field(fields: tuple, field: str) -> None:
    with pytest.raises(PriceFormError) as caught:
        parse_price_form(*fields)
    assert caught.value.field == field
