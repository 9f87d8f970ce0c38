"""A call's two costs side by side when they disagree: ours (list price or override) and its app's.

An app may report its own cost (OpenLIT, OpenInference, Langfuse). Which one counts is the
project's `cost_preference` (collector/pricing.py); the other is kept, and the trace view and
`GET /api/v1/traces/<id>` show both when they differ by more than `SHOWN_ABOVE` of the larger, so
a stale price table on either side is seen where the call is.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from schemas import fields as f

SHOWN_ABOVE = Decimal("0.01")
_OURS = (f.SOURCE_LIST_PRICE, f.SOURCE_OVERRIDE)


def cost_comparison(span: dict[str, Any]) -> dict[str, Any] | None:
    """{"counted", "computed", "reported", "difference_pct"} of a span row, or None when it has
    only one of the two costs or they agree within 1%."""
    reported, ours = span.get(f.COST_REPORTED), computed_cost(span)
    if reported is None or ours is None:
        return None
    larger = max(ours, reported)
    if larger <= 0 or abs(reported - ours) <= SHOWN_ABOVE * larger:
        return None
    difference = None if ours == 0 else round(float((reported - ours) / ours * 100), 2)
    return {"counted": span.get(f.COST_SOURCE) or "", "computed": float(ours), "reported": float(reported),
            "difference_pct": difference}


def computed_cost(span: dict[str, Any]) -> Decimal | None:
    """Our cost of a call: `cost_computed`, or for rows stored before that column, the total when
    ours counted."""
    if span.get(f.COST_COMPUTED) is not None:
        return Decimal(span[f.COST_COMPUTED])
    if span.get(f.COST_SOURCE) in _OURS and span.get(f.COST_TOTAL) is not None:
        return Decimal(span[f.COST_TOTAL])
    return None
