"""Error budgets and burn rates: the arithmetic of the Google SRE workbook's "Alerting on SLOs".

Pure functions over (good, total) counts, so the figures are checked by hand in unit tests. The
error ratio of a window is bad / total; the burn rate is that ratio over the ratio the SLO allows
(1 - target): burning at 1x spends the budget exactly over the SLO's window, at 14.4x a 30-day
budget's 2% in one hour. An alert needs both windows of its pair above the factor: the long
window makes it significant, the short one makes it stop soon after the burn stops.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

# The windows every SLO reports a burn rate over (the API's burn_rate_<name>), as (name, length).
BURN_WINDOWS: tuple[tuple[str, timedelta], ...] = (
    ("5m", timedelta(minutes=5)), ("30m", timedelta(minutes=30)), ("1h", timedelta(hours=1)),
    ("6h", timedelta(hours=6)), ("24h", timedelta(hours=24)),
)
Counts = tuple[int, int]  # (good, total)


@dataclass(frozen=True)
class BurnAlert:
    """One multi-window burn-rate condition and how loud it is."""

    name: str
    severity: str
    long: str
    short: str
    factor: float
    meaning: str


# The workbook's recommended pairs: a page when 2% of a 30-day budget goes in an hour, a ticket
# when 5% goes in six hours.
BURN_ALERTS: tuple[BurnAlert, ...] = (
    BurnAlert("page", "critical", "1h", "5m", 14.4, "fast burn: page"),
    BurnAlert("ticket", "warning", "6h", "30m", 6.0, "slow burn: ticket"),
)


@dataclass(frozen=True)
class Budget:
    """An SLO's error budget over its window: how many bad events it allows, and how many came."""

    good: int
    total: int
    allowed_bad: float
    consumed: float  # share of the budget spent, 0..1 and beyond
    left: float  # 1 - consumed; negative once the SLO is missed

    @property
    def sli(self) -> float | None:
        return self.good / self.total if self.total else None


def error_ratio(counts: Counts) -> float | None:
    """bad / total of a window; None when the window saw no event (no evidence either way)."""
    good, total = counts
    return (total - good) / total if total else None


def burn_rate(counts: Counts, target: float) -> float | None:
    """How many times faster than the SLO allows the budget burns in this window."""
    ratio = error_ratio(counts)
    return None if ratio is None else ratio / (1 - target)


def error_budget(counts: Counts, target: float) -> Budget:
    """The window's budget: (1 - target) x events may be bad. With no event, nothing is spent."""
    good, total = counts
    allowed = (1 - target) * total
    bad = total - good
    consumed = bad / allowed if allowed else 0.0
    return Budget(good=good, total=total, allowed_bad=allowed, consumed=consumed, left=1 - consumed)


def burn_rates(windows: Mapping[str, Counts], target: float) -> dict[str, float | None]:
    """The burn rate of every window in `windows` (name -> counts)."""
    return {name: burn_rate(counts, target) for name, counts in windows.items()}


def alert_breached(alert: BurnAlert, rates: Mapping[str, float | None]) -> bool | None:
    """Both windows of the pair burn faster than its factor; None when the long window had no event
    (the incident state machine then leaves the alert as it is)."""
    long, short = rates.get(alert.long), rates.get(alert.short)
    if long is None:
        return None
    return long > alert.factor and short is not None and short > alert.factor
