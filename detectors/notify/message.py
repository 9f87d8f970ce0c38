"""What an alert says, once, before any channel decides how to say it.

The alert engine builds one `Notification` per incident transition; Slack, PagerDuty and the
signed webhook each render it in their own wire format from these fields alone, so every
channel tells the same story. The human formatting of metric values lives here for the same
reason: "$12.40" in Slack and "$12.40" in PagerDuty come from one function.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime

from detectors.alerts import rules

EVENTS = ("firing", "resolved", "test")
SEVERITIES = ("critical", "error", "warning", "info")
COMPARATORS = (">", ">=", "<", "<=")
EVENT_LABELS = {"firing": "Firing", "resolved": "Resolved", "test": "Test"}

# How a metric's value reads to a human. "fraction" values are stored as 0..1 and shown as a
# percent; "percent" values are already percents. Alertable metrics take their unit from the
# rule table (one definition); exact names win over name suffixes.
USD, MS, FRACTION, PERCENT, PLAIN = "usd", "ms", "fraction", "percent", "plain"
_RULE_UNITS = {rules.USD: USD, rules.MS: MS, rules.RATIO: FRACTION, rules.PCT: PERCENT, rules.COUNT: PLAIN}
METRIC_UNITS: dict[str, str] = {
    **{name: _RULE_UNITS[info.unit] for name, info in rules.METRICS.items()},
    "cost_per_trace": USD,  # dashboard metrics that are not (yet) alertable
    "cost_per_user": USD,
}
UNIT_SUFFIXES: tuple[tuple[str, str], ...] = (("_ms", MS), ("_usd", USD), ("_rate", FRACTION), ("_pct", PERCENT))
NOT_AVAILABLE = "n/a"


@dataclass(frozen=True)
class Notification:
    """One incident transition (or a test message), already decided and ready to render.

    `scope` is keyword-only so it can keep its place among the rule's fields and still default
    to "no filters"; `started_at` should be aware UTC (a naive value is read as UTC).
    """

    event: str
    incident_id: str
    project: str
    rule_name: str
    metric: str
    severity: str
    value: float | None
    threshold: float | None
    comparator: str
    window: str
    scope: dict[str, str] = field(default_factory=dict, kw_only=True)
    started_at: datetime
    dashboard_url: str
    summary: str

    def __post_init__(self) -> None:
        """Reject values no channel can render, at construction rather than at 3 a.m. delivery."""
        for name, allowed in (("event", EVENTS), ("severity", SEVERITIES), ("comparator", COMPARATORS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"Notification.{name} must be one of {', '.join(allowed)}, "
                                 f"not {getattr(self, name)!r}")


@dataclass(frozen=True)
class ChannelTarget:
    """Where to send: secrets arrive already decrypted from the caller, never read here."""

    type: str
    url: str
    routing_key: str = ""
    secret: str = ""
    name: str = ""


def metric_unit(metric: str) -> str:
    """The display unit of a metric: the table first, then its name's suffix, else plain."""
    if metric in METRIC_UNITS:
        return METRIC_UNITS[metric]
    return next((unit for suffix, unit in UNIT_SUFFIXES if metric.endswith(suffix)), PLAIN)


def format_value(metric: str, value: float | None) -> str:
    """A value as a human reads it ("$0.0042", "1,250 ms", "12.5%"); never raises on odd input."""
    number = finite(value)
    if number is None:
        return NOT_AVAILABLE
    unit = metric_unit(metric)
    if unit == USD:
        return _format_usd(number)
    if unit == MS:
        return f"{number:,.0f} ms" if abs(number) >= 10 else f"{number:.1f} ms"
    if unit in (FRACTION, PERCENT):
        return f"{number * 100 if unit == FRACTION else number:.1f}%"
    return f"{number:.4g}"


def _format_usd(amount: float) -> str:
    """Two decimals for dollars, up to four for the fractions of a cent per-request costs live in."""
    if abs(amount) >= 1 or amount == 0:
        return f"${amount:,.2f}"
    text = f"{amount:.4f}".rstrip("0")
    decimals = len(text.split(".")[1])
    return f"${amount:.{max(decimals, 2)}f}"


def finite(value: float | None) -> float | None:
    """The value as a float, or None for missing, NaN or infinite (which JSON cannot carry)."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def format_condition(n: Notification) -> str:
    """"$12.40 > $10.00": the measured value against the rule's threshold."""
    return f"{format_value(n.metric, n.value)} {n.comparator} {format_value(n.metric, n.threshold)}"


def format_scope(scope: dict[str, str]) -> str:
    """"model=gpt-4o, user=u1" in a stable order, or "all" when the rule has no filters."""
    if not scope:
        return "all"
    return ", ".join(f"{key}={value}" for key, value in sorted(scope.items()))


def as_utc(moment: datetime) -> datetime:
    """Aware UTC, whatever the caller handed in (naive datetimes are taken to be UTC already)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def iso_utc(moment: datetime) -> str:
    """ISO-8601 with an explicit "Z", the form PagerDuty and webhook receivers parse without guessing."""
    return as_utc(moment).isoformat().replace("+00:00", "Z")


def clip(text: str, limit: int, ellipsis: str = "…") -> str:
    """Cut `text` to at most `limit` characters, marking the cut, because every API has a limit."""
    if len(text) <= limit:
        return text
    return text[: max(limit - len(ellipsis), 0)] + ellipsis[:limit]
