"""Pricing: list prices from genai-prices, effective-dated overrides, reported and unpriced calls."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from genai_prices import Usage, calc_price

from collector.pricing import Cost, PriceBook, PriceOverride, list_rates, price_row
from schemas import fields as f

AT = datetime(2025, 6, 1, 12, tzinfo=UTC)
LIST = PriceBook()


def _override(pattern: str, input_price: str, output_price: str, **extra: Any) -> PriceOverride:
    return PriceOverride(
        project_id=extra.pop("project_id", "acme"), model_pattern=pattern,
        input_per_mtok=Decimal(input_price), output_per_mtok=Decimal(output_price), **extra,
    )


def _row(**values: Any) -> dict[str, Any]:
    row = {
        f.PROJECT_ID: "acme", f.IS_CALL: True, f.PROVIDER: "openai", f.REQUEST_MODEL: "gpt-4o-mini",
        f.RESPONSE_MODEL: "gpt-4o-mini-2024-07-18", f.INPUT_TOKENS: 15, f.OUTPUT_TOKENS: 8,
        f.CACHE_READ_TOKENS: 0, f.CACHE_WRITE_TOKENS: 0, f.START_TIME: AT, f.COST_REPORTED: None,
    }
    row.update(values)
    return row


def _genai_total(model: str, provider: str, input_tokens: int, output_tokens: int, read: int = 0,
                 write: int = 0) -> Decimal:
    usage = Usage(input_tokens=input_tokens, output_tokens=output_tokens, cache_read_tokens=read,
                  cache_write_tokens=write)
    return calc_price(usage, model_ref=model, provider_id=provider, genai_request_timestamp=AT).total_price


def _assert_adds_up(cost: Cost) -> None:
    assert cost.input + cost.output + cost.cache_read + cost.cache_write + cost.request == cost.total
    assert all(isinstance(v, Decimal) for v in (cost.input, cost.output, cost.cache_read, cost.cache_write))


# --- list prices ----------------------------------------------------------------------------


def test_list_price_gpt_4o_mini() -> None:
    cost = LIST.price_call("acme", "openai", "gpt-4o-mini", 15, 8, 0, 0, AT)
    assert cost is not None
    assert cost.total == Decimal("0.00000705")
    assert cost.source == f.SOURCE_LIST_PRICE
    _assert_adds_up(cost)


def test_list_price_per_request_fee_is_charged_once_per_call() -> None:
    """Perplexity's search models bill a fee per request besides tokens (genai-prices' requests_kcount)."""
    cost = LIST.price_call("acme", "perplexity", "sonar", 400, 100, 0, 0, AT)
    assert cost is not None
    usage = Usage(input_tokens=400, output_tokens=100)  # genai-prices charges the fee per call
    expected = calc_price(usage, model_ref="sonar", provider_id="perplexity", genai_request_timestamp=AT)
    assert cost.request > 0 and cost.request > cost.input + cost.output  # the fee dominates a small call
    assert cost.total == expected.total_price
    _assert_adds_up(cost)


def test_price_row_stores_the_request_fee() -> None:
    row = _row(**{f.PROVIDER: "perplexity", f.REQUEST_MODEL: "sonar-pro", f.RESPONSE_MODEL: "sonar-pro"})
    price_row(row, LIST)
    assert row[f.COST_REQUEST] > 0
    assert row[f.COST_TOTAL] == sum(row[name] for name in f.COST_FIELDS if name != f.COST_TOTAL)


def test_list_price_with_cached_input_matches_genai_prices() -> None:
    cost = LIST.price_call("acme", "openai", "gpt-4.1-mini-2025-04-14", 1387, 29, 1280, 0, AT)
    assert cost is not None
    assert cost.total == Decimal("0.0002172")
    assert cost.total == _genai_total("gpt-4.1-mini-2025-04-14", "openai", 1387, 29, 1280)
    assert cost.input == Decimal("0.0000428")  # 107 uncached tokens, never $0
    assert cost.cache_read == Decimal("0.000128")
    _assert_adds_up(cost)


def test_anthropic_cache_write_and_read_priced_once_each() -> None:
    model = "claude-sonnet-4-20250514"
    cost = LIST.price_call("acme", "anthropic", model, 3000, 100, 1000, 1500, AT)
    rates = list_rates("anthropic", model, AT)
    assert cost is not None and rates is not None
    assert rates.cache_write > rates.input > rates.cache_read
    assert cost.input == 500 * rates.input / 1_000_000
    assert cost.cache_read == 1000 * rates.cache_read / 1_000_000
    assert cost.cache_write == 1500 * rates.cache_write / 1_000_000
    assert cost.total == _genai_total(model, "anthropic", 3000, 100, 1000, 1500)
    _assert_adds_up(cost)


@pytest.mark.parametrize(
    ("provider", "dated", "plain"),
    [
        ("openai", "gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("openai", "gpt-4o-2024-08-06", "gpt-4o"),
        ("anthropic", "claude-3-5-haiku-20241022", "claude-3-5-haiku-latest"),
    ],
)
def test_dated_model_names_price_like_their_alias(provider: str, dated: str, plain: str) -> None:
    dated_cost = LIST.price_call("acme", provider, dated, 1000, 100, 0, 0, AT)
    assert dated_cost is not None
    assert dated_cost == LIST.price_call("acme", provider, plain, 1000, 100, 0, 0, AT)


@pytest.mark.parametrize(("provider", "model"), [("google", "gemini-2.5-pro"),
                                               ("anthropic", "claude-sonnet-4-5-20250929")])
def test_tiered_list_price_agrees_with_genai_prices(provider: str, model: str) -> None:
    """Each size tier, its bounds on both sides, and cached input counted toward the size."""
    totals = set()
    for input_tokens in (0, 3_000, 200_000, 200_001, 300_000):
        cost = LIST.price_call("acme", provider, model, input_tokens, 100, input_tokens // 2, 0, AT)
        assert cost is not None
        assert cost.total == _genai_total(model, provider, input_tokens, 100, read=input_tokens // 2)
        totals.add(cost.total / max(input_tokens, 1))
    assert len(totals) >= 3  # the larger tier does cost more per token


def test_unknown_provider_falls_back_to_model_name() -> None:
    cost = LIST.price_call("acme", "some-gateway", "gpt-4o-mini", 15, 8, 0, 0, AT)
    assert cost is not None and cost.total == Decimal("0.00000705")


def test_unknown_model_is_none() -> None:
    assert LIST.price_call("acme", "openai", "my-own-model-v3", 15, 8, 0, 0, AT) is None


# --- overrides ------------------------------------------------------------------------------


def test_override_beats_list_price_for_its_project_only() -> None:
    book = PriceBook([_override("GPT-4o-mini*", "1", "2")])
    cost = book.price_call("acme", "openai", "gpt-4o-mini-2024-07-18", 15, 8, 0, 0, AT)
    assert cost is not None
    assert (cost.total, cost.source) == (Decimal("0.000031"), f.SOURCE_OVERRIDE)
    other = book.price_call("other-project", "openai", "gpt-4o-mini", 15, 8, 0, 0, AT)
    assert other is not None and other.source == f.SOURCE_LIST_PRICE


def test_override_cache_rates_default_to_input_rate() -> None:
    book = PriceBook([_override("ft:*", "10", "20")])
    cost = book.price_call("acme", "openai", "ft:gpt-4o-mini:acme::x1", 1000, 0, 400, 100, AT)
    assert cost is not None
    assert cost.input == Decimal("0.005")
    assert (cost.cache_read, cost.cache_write) == (Decimal("0.004"), Decimal("0.001"))
    _assert_adds_up(cost)


def test_override_effective_dating() -> None:
    book = PriceBook([
        _override("gpt-4o", "2", "8", valid_from=datetime(2025, 1, 1, tzinfo=UTC)),
        _override("gpt-4o", "1", "4", valid_from=datetime(2025, 3, 1, tzinfo=UTC)),
    ])

    def price_at(at: datetime) -> Cost | None:
        return book.price_call("acme", "openai", "gpt-4o", 1_000_000, 0, 0, 0, at)

    before = price_at(datetime(2024, 12, 31, tzinfo=UTC))
    assert before is not None and before.source == f.SOURCE_LIST_PRICE
    assert price_at(datetime(2025, 2, 1, tzinfo=UTC)) == Cost(
        Decimal(2), Decimal(0), Decimal(0), Decimal(0), Decimal(2), f.SOURCE_OVERRIDE
    )
    assert price_at(datetime(2025, 4, 1, tzinfo=UTC)).total == Decimal(1)  # type: ignore[union-attr]


def test_more_specific_override_beats_newer_glob() -> None:
    book = PriceBook([
        _override("gpt-4o-ft-acme", "5", "5", valid_from=datetime(2024, 1, 1, tzinfo=UTC)),
        _override("gpt-4*", "1", "1", valid_from=datetime(2025, 1, 1, tzinfo=UTC)),
        _override("gpt-4*", "3", "3", provider="azure", valid_from=datetime(2024, 1, 1, tzinfo=UTC)),
    ])
    exact = book.price_call("acme", "openai", "gpt-4o-ft-acme", 1_000_000, 0, 0, 0, AT)
    glob = book.price_call("acme", "openai", "gpt-4o", 1_000_000, 0, 0, 0, AT)
    azure = book.price_call("acme", "Azure", "gpt-4o", 1_000_000, 0, 0, 0, AT)
    assert [c.total for c in (exact, glob, azure) if c] == [Decimal(5), Decimal(1), Decimal(3)]


def test_naive_valid_from_is_taken_as_utc() -> None:
    book = PriceBook([_override("gpt-4o", "1", "1", valid_from=datetime(2025, 1, 1))])
    cost = book.price_call("acme", "openai", "gpt-4o", 10, 0, 0, 0, AT)
    assert cost is not None and cost.source == f.SOURCE_OVERRIDE


# --- rows -----------------------------------------------------------------------------------


def _costs(row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(row[name] for name in (*f.COST_FIELDS, f.COST_SOURCE))


def test_price_row_list_price_from_response_model() -> None:
    row = _row()
    price_row(row, LIST)
    assert row[f.COST_TOTAL] == Decimal("0.00000705")
    assert row[f.COST_SOURCE] == f.SOURCE_LIST_PRICE
    assert row[f.COST_INPUT] + row[f.COST_OUTPUT] + row[f.COST_CACHE_READ] + row[f.COST_CACHE_WRITE] == (
        row[f.COST_TOTAL]
    )


def test_price_row_falls_back_to_request_model() -> None:
    row = _row(**{f.RESPONSE_MODEL: "proxy-alias-7", f.REQUEST_MODEL: "gpt-4o-mini"})
    price_row(row, LIST)
    assert row[f.COST_TOTAL] == Decimal("0.00000705")


def test_price_row_override_on_request_model_beats_list_price_of_response_model() -> None:
    book = PriceBook([_override("gpt-4o-mini", "1", "2")])
    row = _row()
    price_row(row, book)
    assert (row[f.COST_TOTAL], row[f.COST_SOURCE]) == (Decimal("0.000031"), f.SOURCE_OVERRIDE)


def test_price_row_keeps_reported_cost_when_model_unknown() -> None:
    row = _row(**{f.RESPONSE_MODEL: "mystery", f.REQUEST_MODEL: "mystery", f.COST_REPORTED: 0.0123})
    price_row(row, LIST)
    assert _costs(row) == (None, None, None, None, None, Decimal("0.0123"), f.SOURCE_REPORTED)


def test_price_row_known_model_keeps_reported_beside_ours() -> None:
    row = _row(**{f.COST_REPORTED: Decimal("0.5")})
    price_row(row, LIST)
    assert row[f.COST_SOURCE] == f.SOURCE_LIST_PRICE
    assert row[f.COST_REPORTED] == Decimal("0.5")


def test_price_row_unpriced_unknown_model_is_not_zero() -> None:
    row = _row(**{f.RESPONSE_MODEL: "mystery", f.REQUEST_MODEL: ""})
    price_row(row, LIST)
    assert _costs(row) == (None, None, None, None, None, None, f.SOURCE_UNPRICED)


def test_price_row_non_call_has_no_cost() -> None:
    row = _row(**{f.IS_CALL: False})
    price_row(row, LIST)
    assert _costs(row) == (None, None, None, None, None, None, f.SOURCE_NONE)


def test_price_row_tolerates_missing_and_inconsistent_tokens() -> None:
    row = _row(**{f.INPUT_TOKENS: 100, f.CACHE_READ_TOKENS: 150, f.OUTPUT_TOKENS: 0})
    del row[f.CACHE_WRITE_TOKENS]
    price_row(row, LIST)
    assert row[f.COST_INPUT] == 0  # uncached input clamps at zero, it never goes negative
    assert row[f.COST_CACHE_READ] > 0
    assert row[f.COST_TOTAL] == row[f.COST_CACHE_READ]


@pytest.mark.parametrize("refused", [f.INPUT_TOKENS, f.OUTPUT_TOKENS, f.CACHE_READ_TOKENS, f.CACHE_WRITE_TOKENS])
def test_price_row_with_a_refused_count_is_not_priced_by_us(refused: str) -> None:
    """A NULL count was refused (collector.counts): the tokens are unknown, so our price is too,
    never a price of the other counts alone; the reported cost, if any, stands."""
    row = _row(**{refused: None})
    price_row(row, LIST)
    assert _costs(row) == (None, None, None, None, None, None, f.SOURCE_UNPRICED)
    row = _row(**{refused: None, f.COST_REPORTED: Decimal("0.0123")})
    price_row(row, LIST)
    assert (row[f.COST_TOTAL], row[f.COST_SOURCE]) == (Decimal("0.0123"), f.SOURCE_REPORTED)
