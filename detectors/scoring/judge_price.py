"""What a judge's own call cost: its token usage at list price, as any LLM call is priced.

Every judge (groundedness, shadow preference) records this beside its verdict, so the money spent
on judging is seen, never hidden in a provider's bill.
"""

from __future__ import annotations

from decimal import Decimal

from genai_prices import Usage, calc_price


def judge_cost(model: str, input_tokens: int, output_tokens: int) -> Decimal | None:
    """The call's cost at list price (genai-prices); None when nothing was used or the model has no
    known price (unpriced, never $0)."""
    if not input_tokens and not output_tokens:
        return None
    try:
        usage = Usage(input_tokens=input_tokens, output_tokens=output_tokens)
        return Decimal(calc_price(usage, model_ref=model).total_price)
    except LookupError:
        return None
