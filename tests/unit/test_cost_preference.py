"""Which cost counts when an app reports its own: the project's `cost_preference`, our price kept beside it,
parts that still add up to the total, the collector's view of the setting, and the trace view's comparison."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from collector.pipeline import PriceBookSource
from collector.pricing import Cost, PriceBook, PriceOverride, apportion, price_row
from dashboard.cost_comparison import cost_comparison
from dashboard.ui.pages.trace_view import _cost_comparison
from schemas import fields as f

AT = datetime(2025, 6, 1, 12, tzinfo=UTC)
OURS = Decimal("0.00000705")  # gpt-4o-mini, 15 input and 8 output tokens, at list price
PREFERS_REPORTED = PriceBook(prefer_reported=["acme"])


def _row(**values: Any) -> dict[str, Any]:
    row = {
        f.PROJECT_ID: "acme", f.IS_CALL: True, f.PROVIDER: "openai", f.REQUEST_MODEL: "gpt-4o-mini",
        f.RESPONSE_MODEL: "gpt-4o-mini-2024-07-18", f.INPUT_TOKENS: 15, f.OUTPUT_TOKENS: 8,
        f.CACHE_READ_TOKENS: 0, f.CACHE_WRITE_TOKENS: 0, f.START_TIME: AT, f.COST_REPORTED: None,
        f.COST_COMPUTED: None,
    }
    row.update(values)
    return row


def _parts(row: dict[str, Any]) -> list[Decimal]:
    return [row[name] for name in f.COST_FIELDS if name != f.COST_TOTAL]


def test_by_default_our_price_counts_and_the_reported_cost_is_kept_beside_it() -> None:
    row = _row(**{f.COST_REPORTED: Decimal("0.00001")})
    price_row(row, PriceBook())
    assert (row[f.COST_TOTAL], row[f.COST_SOURCE], row[f.COST_COMPUTED]) == (OURS, f.SOURCE_LIST_PRICE, OURS)
    assert row[f.COST_REPORTED] == Decimal("0.00001")


def test_a_project_preferring_reported_counts_the_apps_cost_and_keeps_ours() -> None:
    row = _row(**{f.COST_REPORTED: Decimal("0.00001")})
    price_row(row, PREFERS_REPORTED)
    assert (row[f.COST_TOTAL], row[f.COST_SOURCE], row[f.COST_COMPUTED]) == (
        Decimal("0.00001"), f.SOURCE_REPORTED, OURS)
    assert sum(_parts(row)) == row[f.COST_TOTAL]  # the README's promise holds
    # In our shares (input $0.00000225, output $0.0000048), rounded down; the 1e-12 left goes to the larger.
    assert (row[f.COST_INPUT], row[f.COST_OUTPUT]) == (Decimal("0.000003191489"), Decimal("0.000006808511"))


def test_the_preference_is_per_project_and_needs_a_reported_cost() -> None:
    other = _row(**{f.PROJECT_ID: "other", f.COST_REPORTED: Decimal("0.00001")})
    price_row(other, PREFERS_REPORTED)
    assert other[f.COST_SOURCE] == f.SOURCE_LIST_PRICE
    silent = _row()
    price_row(silent, PREFERS_REPORTED)
    assert (silent[f.COST_TOTAL], silent[f.COST_SOURCE]) == (OURS, f.SOURCE_LIST_PRICE)


def test_reported_cost_beats_an_override_too() -> None:
    override = PriceOverride(project_id="acme", model_pattern="gpt-4o-mini*", input_per_mtok=Decimal(1),
                             output_per_mtok=Decimal(2))
    row = _row(**{f.COST_REPORTED: Decimal("0.00002")})
    price_row(row, PriceBook([override], prefer_reported=["acme"]))
    assert (row[f.COST_TOTAL], row[f.COST_SOURCE], row[f.COST_COMPUTED]) == (
        Decimal("0.00002"), f.SOURCE_REPORTED, Decimal("0.000031"))


def test_without_a_split_of_ours_the_parts_stay_unknown() -> None:
    unknown_model = _row(**{f.RESPONSE_MODEL: "mystery", f.REQUEST_MODEL: "", f.COST_REPORTED: Decimal("0.2")})
    price_row(unknown_model, PREFERS_REPORTED)
    assert (unknown_model[f.COST_TOTAL], unknown_model[f.COST_COMPUTED]) == (Decimal("0.2"), None)
    assert _parts(unknown_model) == [None] * 5
    free = Cost(Decimal(0), Decimal(0), Decimal(0), Decimal(0), Decimal(0), f.SOURCE_LIST_PRICE)
    assert apportion(free, Decimal("0.2")) is None


def test_apportioned_parts_add_up_exactly_at_any_scale() -> None:
    ours = Cost(Decimal("0.000000000003"), Decimal("0.000000000003"), Decimal("0.000000000003"), Decimal(0),
                Decimal("0.000000000009"), f.SOURCE_LIST_PRICE)
    for reported in (Decimal("1e-12"), Decimal("0.1"), Decimal("0.333333333333"), Decimal("12345678901234.5")):
        split = apportion(ours, reported)
        assert split is not None and split.total == reported
        parts = [split.input, split.output, split.cache_read, split.cache_write, split.request]
        assert sum(parts) == reported and min(parts) >= 0


def test_the_collector_sees_a_changed_preference_at_its_next_reload() -> None:
    preferring: list[str] = []
    source = PriceBookSource(lambda: [], ttl=0.0, load_prefer_reported=lambda: list(preferring))
    assert not source.current().prefers_reported("acme")
    preferring.append("acme")
    assert source.current().prefers_reported("acme")


# --- the trace view -----------------------------------------------------------------------------------


def _span(total: str | None, source: str, reported: str | None, computed: str | None) -> dict[str, Any]:
    def money(value: str | None) -> Decimal | None:
        return None if value is None else Decimal(value)
    return {f.COST_TOTAL: money(total), f.COST_SOURCE: source, f.COST_REPORTED: money(reported),
            f.COST_COMPUTED: money(computed)}


def test_both_costs_are_compared_when_they_differ_by_more_than_one_percent() -> None:
    counted_reported = cost_comparison(_span("0.012", "reported", "0.012", "0.015"))
    assert counted_reported == {"counted": "reported", "computed": 0.015, "reported": 0.012,
                                "difference_pct": -20.0}
    old_row = cost_comparison(_span("0.015", "list_price", "0.012", None))  # stored before cost_computed
    assert old_row is not None and old_row["counted"] == "list_price" and old_row["computed"] == 0.015
    assert cost_comparison(_span("0.0150", "list_price", "0.01505", "0.0150")) is None  # within 1%
    assert cost_comparison(_span("0.0150", "list_price", None, "0.0150")) is None
    assert cost_comparison(_span("0.2", "reported", "0.2", None)) is None  # nothing of ours to compare


def test_the_trace_view_shows_both_costs_and_which_counts() -> None:
    panel = _cost_comparison(cost_comparison(_span("0.012", "reported", "0.012", "0.015")))
    text = " ".join(str(child.children) for child in panel.children)
    assert "reported by the app $0.012 (-20.0% against llmpulse's price) — counts" in text
    assert "llmpulse's price $0.015" in text and text.count("counts") == 1
    assert _cost_comparison(None) is None
