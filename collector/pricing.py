"""Turn token counts into money: prices are data (genai-prices plus project overrides).

Precedence for an LLM call, first hit wins:
1. a project price override matching the response model, then the request model;
2. the genai-prices list price of the response model, then the request model;
3. the cost the instrumentation reported (total only);
4. unpriced — counted and shown as such, never a silent $0.
A project whose `cost_preference` is "reported" puts 3 first: the cost its app reports wins
whenever it sends one (as in Langfuse, whose users send negotiated prices), and our price, kept
in `cost_computed` either way, only splits that total into parts (`apportion`).

Override rule: among a project's overrides whose provider ('' = any) and glob pattern
(fnmatch, case-insensitive) match and whose `valid_from` ≤ the call time, the most specific
wins — provider-specific before any-provider, then more literal (non-wildcard) characters —
and among equally specific ones the latest `valid_from`. So a fine-tuned model's exact price
is not undercut by a newer blanket `gpt-4*` discount.

Token rule (OTel): input tokens include cache reads and writes, so uncached input is
input - cache_read - cache_write (never below zero) and each token is priced exactly once.
A missing cache rate means the provider bills those tokens as ordinary input. A list price
with a per-request fee (Perplexity's search models) adds it once per call, as `request`.
Audio tokens are parts of input and output too: where the list price has an audio rate they are
priced at it (`input_audio`, `output_audio`) and taken out of the text part, else they are
priced as text.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Context, Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from genai_prices import Usage, calc_price
from genai_prices.types import ModelPrice, TieredPrices

from schemas import fields as f

_MILLION = Decimal(1_000_000)
_STORED_PRECISION = Decimal("1e-12")  # the spans table stores Decimal(38, 12)
_ZERO = Decimal(0)
_DECIMAL_38 = Context(prec=38)  # 26 integer and 12 decimal digits, as stored
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NO_COST = dict.fromkeys((*f.COST_FIELDS, *f.AUDIO_COST_FIELDS))
_AUDIO_PRICES = ("input_audio_mtok", "output_audio_mtok")


@dataclass(frozen=True, slots=True, kw_only=True)
class PriceOverride:
    """A project's own price (USD per million tokens) for models matching a glob, from `valid_from` on."""

    project_id: str
    model_pattern: str
    provider: str = ""
    input_per_mtok: Decimal
    output_per_mtok: Decimal
    cache_read_per_mtok: Decimal | None = None
    cache_write_per_mtok: Decimal | None = None
    valid_from: datetime = _EPOCH


@dataclass(frozen=True, slots=True)
class Rates:
    """USD per million tokens for one call, after tiers, overrides and fallbacks are resolved."""

    input: Decimal
    output: Decimal
    cache_read: Decimal
    cache_write: Decimal
    source: str
    per_request: Decimal = _ZERO
    input_audio: Decimal | None = None  # None: audio is billed as text
    output_audio: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Cost:
    """What one call cost, in USD; the components add up to `total` exactly."""

    input: Decimal
    output: Decimal
    cache_read: Decimal
    cache_write: Decimal
    total: Decimal
    source: str
    request: Decimal = _ZERO
    input_audio: Decimal = _ZERO
    output_audio: Decimal = _ZERO


@dataclass(frozen=True, slots=True)
class _Rule:
    override: PriceOverride
    pattern: re.Pattern[str]
    provider: str


class PriceBook:
    """Overrides indexed by project, in precedence order, plus cached list-price lookups."""

    def __init__(self, overrides: Iterable[PriceOverride] = (), prefer_reported: Iterable[str] = ()) -> None:
        self._rules: dict[str, list[_Rule]] = {}
        for override in sorted(overrides, key=_precedence):
            self._rules.setdefault(override.project_id, []).append(_compile_rule(override))
        self._prefer_reported: frozenset[str] = frozenset(prefer_reported)

    def prefers_reported(self, project_id: str) -> bool:
        """Whether the project counts the cost its app reports before our prices (`cost_preference`)."""
        return project_id in self._prefer_reported

    def price_call(
        self, project_id: str, provider: str, model: str, input_tokens: int, output_tokens: int,
        cache_read_tokens: int = 0, cache_write_tokens: int = 0, at: datetime | None = None,
    ) -> Cost | None:
        """Cost of one call, or None when no override or list price knows the model."""
        rates = self.find_rates(project_id, provider, (model,), at or datetime.now(UTC), input_tokens)
        if rates is None:
            return None
        return cost_from_rates(rates, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens)

    def find_rates(
        self, project_id: str, provider: str, models: Sequence[str], at: datetime, input_tokens: int = 0,
    ) -> Rates | None:
        """Rates of the first model name that is priced: overrides for all names before list prices.

        `input_tokens` (cache included) selects the tier of tiered list prices.
        """
        names = [name for name in models if name]
        at = _aware(at)
        for name in names:
            if rates := self._override_rates(project_id, provider, name, at):
                return rates
        for name in names:
            if rates := list_rates(provider, name, at, input_tokens):
                return rates
        return None

    def _override_rates(self, project_id: str, provider: str, model: str, at: datetime) -> Rates | None:
        rules = self._rules.get(project_id)
        if not rules:
            return None
        model, provider = model.lower(), (provider or "").lower()
        for rule in rules:
            o = rule.override
            if o.valid_from <= at and rule.provider in ("", provider) and rule.pattern.match(model):
                return _override_to_rates(o)
        return None


def price_row(row: dict[str, Any], book: PriceBook) -> None:
    """Fill a normalized span row's cost columns in place (see the module docstring for precedence)."""
    if not row.get(f.IS_CALL):
        row.update(_NO_COST, **{f.COST_SOURCE: f.SOURCE_NONE})
        return
    if any(name in row and row[name] is None for name in _PRICED_COUNTS):  # refused (collector.counts)
        _write_fallback(row, _to_decimal(row.get(f.COST_REPORTED)))  # tokens unknown: so is our price
        return
    tokens = [_count(row.get(name)) for name in (f.INPUT_TOKENS, f.OUTPUT_TOKENS)]
    cache = [_count(row.get(name)) for name in (f.CACHE_READ_TOKENS, f.CACHE_WRITE_TOKENS)]
    audio = [_count(row.get(name)) for name in f.AUDIO_TOKEN_FIELDS]
    models = (row.get(f.RESPONSE_MODEL) or "", row.get(f.REQUEST_MODEL) or "")
    project = row.get(f.PROJECT_ID) or ""
    rates = book.find_rates(project, row.get(f.PROVIDER) or "", models, _call_time(row), tokens[0])
    ours = None if rates is None else cost_from_rates(rates, *tokens, *cache, *audio)
    reported = _to_decimal(row.get(f.COST_REPORTED))
    row[f.COST_COMPUTED] = None if ours is None else ours.total
    counted = ours
    if ours is not None and reported is not None and book.prefers_reported(project):
        counted = apportion(ours, reported)
    if counted is not None:
        _write_cost(row, counted)
    else:
        _write_fallback(row, reported)


_PRICED_COUNTS = (f.INPUT_TOKENS, f.OUTPUT_TOKENS, f.CACHE_READ_TOKENS, f.CACHE_WRITE_TOKENS, *f.AUDIO_TOKEN_FIELDS)


def cost_from_rates(
    rates: Rates, input_tokens: int, output_tokens: int,
    cache_read_tokens: int = 0, cache_write_tokens: int = 0,
    input_audio_tokens: int = 0, output_audio_tokens: int = 0,
) -> Cost:
    """Price each token once: uncached text input, output text, cache reads, cache writes and
    audio at their own rates, plus the per-request fee if the price has one."""
    audio_in = input_audio_tokens if rates.input_audio is not None else 0
    audio_out = output_audio_tokens if rates.output_audio is not None else 0
    uncached = max(input_tokens - cache_read_tokens - cache_write_tokens - audio_in, 0)
    parts = (
        _money(uncached, rates.input),
        _money(max(output_tokens - audio_out, 0), rates.output),
        _money(cache_read_tokens, rates.cache_read),
        _money(cache_write_tokens, rates.cache_write),
    )
    audio = (_money(audio_in, rates.input_audio or _ZERO), _money(audio_out, rates.output_audio or _ZERO))
    request = rates.per_request
    return Cost(*parts, total=sum((*parts, *audio), request), source=rates.source, request=request,
                input_audio=audio[0], output_audio=audio[1])


def apportion(ours: Cost, reported: Decimal) -> Cost | None:
    """The reported total split into parts in the shares of our own price, so the parts still add up
    to the total; None when ours is $0 and the split is unknown.

    Instrumentations report a total (the parts of Langfuse's cost details are not kept), so the
    shares are ours: each part is scaled and rounded down to the stored precision, and what the
    rounding left goes to the largest part.
    """
    if ours.total <= _ZERO:
        return None
    parts = [ours.input, ours.output, ours.cache_read, ours.cache_write, ours.request,
             ours.input_audio, ours.output_audio]
    scaled = [_DECIMAL_38.divide(_DECIMAL_38.multiply(part, reported), ours.total)
              .quantize(_STORED_PRECISION, rounding=ROUND_DOWN, context=_DECIMAL_38) for part in parts]
    largest = max(range(len(scaled)), key=lambda i: scaled[i])
    scaled[largest] = _DECIMAL_38.add(scaled[largest], _DECIMAL_38.subtract(reported, sum(scaled, _ZERO)))
    return Cost(scaled[0], scaled[1], scaled[2], scaled[3], total=reported, source=f.SOURCE_REPORTED,
                request=scaled[4], input_audio=scaled[5], output_audio=scaled[6])


def list_rates(provider: str, model: str, at: datetime, input_tokens: int = 0) -> Rates | None:
    """genai-prices list rates at time `at` (prices change over time, and some by time of day)."""
    provider, model = provider.lower(), model.lower()
    invariant, rates = _invariant_rates(provider, model)
    if invariant:
        return rates
    info = _find_model(provider, model)
    return None if info is None else _rates_of(info.get_prices(at), input_tokens)


@lru_cache(maxsize=4096)
def _invariant_rates(provider: str, model: str) -> tuple[bool, Rates | None]:
    """(True, rates) for a model whose list price depends neither on the call's time nor its size,
    as most do: those rates are worked out once. (False, None) when each call must look."""
    info = _find_model(provider, model)
    if info is None:
        return True, None
    prices = info.prices
    if not isinstance(prices, ModelPrice) or any(
        isinstance(getattr(prices, name), TieredPrices)
        for name in ("input_mtok", "output_mtok", "cache_read_mtok", "cache_write_mtok", *_AUDIO_PRICES)
    ):
        return False, None
    return True, _rates_of(prices, 0)


def _rates_of(prices: Any, input_tokens: int) -> Rates | None:
    base = _tier(prices.input_mtok, input_tokens)
    output = _tier(prices.output_mtok, input_tokens)
    if base is None and output is None:
        return None  # not priced per token (per request, per image, …)
    base = base if base is not None else _ZERO
    return Rates(
        base,
        output if output is not None else _ZERO,
        _fallback(_tier(prices.cache_read_mtok, input_tokens), base),
        _fallback(_tier(prices.cache_write_mtok, input_tokens), base),
        f.SOURCE_LIST_PRICE,
        _per_request(prices.requests_kcount),
        _tier(getattr(prices, _AUDIO_PRICES[0], None), input_tokens),
        _tier(getattr(prices, _AUDIO_PRICES[1], None), input_tokens),
    )


def _per_request(per_thousand: Decimal | None) -> Decimal:
    return _ZERO if per_thousand is None else (per_thousand / 1000).quantize(_STORED_PRECISION)


# --- helpers ----------------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _find_model(provider: str, model: str) -> Any | None:
    """genai-prices' model lookup is slow (regex matching over every model), so it runs once per
    (provider, model); bounded because model names come from untrusted spans. A provider that
    genai-prices does not know, or that does not list the model (a gateway), falls back to
    matching the model name alone."""
    nothing = Usage(input_tokens=0, output_tokens=0)
    for provider_id in dict.fromkeys((provider or None, None)):
        try:
            return calc_price(nothing, model_ref=model, provider_id=provider_id).model
        except LookupError:
            continue
        except Exception:  # a price-data quirk must never fail ingest; the call stays unpriced
            return None
    return None


def _tier(price: Any, input_tokens: int) -> Decimal | None:
    """Resolve genai-prices TieredPrices the way it does: the highest tier whose start the whole
    input (cache included) exceeds applies to every token."""
    if price is None or isinstance(price, Decimal):
        return price
    for tier in reversed(price.tiers):
        if input_tokens > tier.start:
            return tier.price
    return price.base


def _fallback(value: Decimal | None, default: Decimal) -> Decimal:
    return default if value is None else value


def _precedence(override: PriceOverride) -> tuple[int, int, float]:
    pattern = override.model_pattern
    literal = sum(1 for ch in pattern if ch not in "*?[]")
    return (0 if override.provider else 1, -literal, -_aware(override.valid_from).timestamp())


def _compile_rule(override: PriceOverride) -> _Rule:
    pattern = re.compile(fnmatch.translate(override.model_pattern.lower()))
    normalized = _normalize_override(override)
    return _Rule(normalized, pattern, override.provider.lower())


def _normalize_override(override: PriceOverride) -> PriceOverride:
    """DB rows may carry naive datetimes or floats; pricing needs aware times and Decimals."""
    return PriceOverride(
        project_id=override.project_id,
        model_pattern=override.model_pattern,
        provider=override.provider,
        input_per_mtok=_to_decimal(override.input_per_mtok) or _ZERO,
        output_per_mtok=_to_decimal(override.output_per_mtok) or _ZERO,
        cache_read_per_mtok=_to_decimal(override.cache_read_per_mtok),
        cache_write_per_mtok=_to_decimal(override.cache_write_per_mtok),
        valid_from=_aware(override.valid_from),
    )


def _override_to_rates(o: PriceOverride) -> Rates:
    base = o.input_per_mtok
    return Rates(
        base,
        o.output_per_mtok,
        _fallback(o.cache_read_per_mtok, base),
        _fallback(o.cache_write_per_mtok, base),
        f.SOURCE_OVERRIDE,
    )


def _money(tokens: int, per_mtok: Decimal) -> Decimal:
    return (tokens * per_mtok / _MILLION).quantize(_STORED_PRECISION)


def _write_cost(row: dict[str, Any], cost: Cost) -> None:
    row[f.COST_INPUT] = cost.input
    row[f.COST_OUTPUT] = cost.output
    row[f.COST_CACHE_READ] = cost.cache_read
    row[f.COST_CACHE_WRITE] = cost.cache_write
    row[f.COST_REQUEST] = cost.request
    row[f.COST_INPUT_AUDIO] = cost.input_audio
    row[f.COST_OUTPUT_AUDIO] = cost.output_audio
    row[f.COST_TOTAL] = cost.total
    row[f.COST_SOURCE] = cost.source


def _write_fallback(row: dict[str, Any], reported: Decimal | None) -> None:
    """No price known (or ours is $0 where the reported cost wins): keep the instrumentation's own
    total if it sent one, its parts unknown, else say 'unpriced'."""
    row.update(_NO_COST)
    row[f.COST_TOTAL] = reported
    row[f.COST_SOURCE] = f.SOURCE_UNPRICED if reported is None else f.SOURCE_REPORTED


def _call_time(row: dict[str, Any]) -> datetime:
    """Prices are effective-dated, so a call is priced at its start time (now if unknown)."""
    start = row.get(f.START_TIME)
    if isinstance(start, datetime):
        return _aware(start)
    if isinstance(start, int) and start > 0:
        return datetime.fromtimestamp(start / 1e9, UTC)
    return datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _count(value: Any) -> int:
    """Token counts arrive normalized, but a None or negative count must not break pricing."""
    try:
        return max(int(value or 0), 0)
    except (TypeError, ValueError):
        return 0


def _to_decimal(value: Any) -> Decimal | None:
    """Decimal via str, so a float 0.1 becomes 0.1, not 0.1000000000000000055…; junk → None."""
    if value is None or isinstance(value, Decimal):
        return value
    try:
        result = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return result if result.is_finite() else None
