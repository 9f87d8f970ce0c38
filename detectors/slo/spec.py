"""SLOs as data: the SLI table, payload validation and the stored spec.

An SLO says "this share of calls is good over this window": an SLI (what makes one call good),
a target in (0, 1) and a window. Pure, like `detectors.alerts.rules`, so the HTTP layer maps the
one `SloError` to a 400 naming the field and every refusal is unit-tested.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import timedelta
from types import MappingProxyType
from typing import Any

from detectors.alerts.rules import (
    MAX_DESCRIPTION,
    AlertInputError,
    check_channels,
    check_filters,
    check_name,
    check_object,
    format_duration,
    parse_duration,
)


class SloError(AlertInputError):
    """An SLO payload that cannot be stored as sent."""


@dataclass(frozen=True)
class SliInfo:
    """What makes one event good, and in which unit its threshold is (None: it takes none)."""

    name: str
    unit: str | None
    description: str


SLIS: Mapping[str, SliInfo] = MappingProxyType({info.name: info for info in (
    SliInfo("latency", "ms", "LLM calls whose duration is at most `threshold` ms, among all calls."),
    SliInfo("ttft", "ms", "Streamed calls whose time to first token is at most `threshold` ms, among "
                          "calls that report one."),
    SliInfo("errors", None, "LLM calls that did not fail, among all calls."),
    SliInfo("hallucination", None, "Scored calls not judged hallucinated, among sampled scored calls."),
    SliInfo("cost_per_request", "usd", "Priced calls that cost at most `threshold` US dollars, among "
                                       "priced calls."),
)})
SLO_FIELDS = ("name", "sli", "threshold", "target", "window", "filters", "channels", "description")
SLO_FILTER_KEYS = ("model", "provider", "service", "environment", "user", "tag")
MIN_WINDOW, MAX_WINDOW = timedelta(hours=1), timedelta(days=90)


@dataclass(frozen=True)
class SloSpec:
    name: str
    sli: str
    target: float
    window: timedelta
    threshold: float | None = None
    filters: tuple[tuple[str, str], ...] = ()
    channels: tuple[int, ...] = ()
    description: str = ""

    @property
    def filter_map(self) -> dict[str, str]:
        return dict(self.filters)

    def to_json(self) -> dict[str, Any]:
        """The API shape; `parse_slo(spec.to_json(), ...)` gives the same spec back."""
        return {"name": self.name, "sli": self.sli, "threshold": self.threshold, "target": self.target,
                "window": format_duration(self.window), "filters": self.filter_map,
                "channels": list(self.channels), "description": self.description}


def parse_slo(payload: Any, *, known_channels: Collection[int]) -> SloSpec:
    """Validate a POST body into an `SloSpec`, or raise `SloError` for its first problem."""
    body = check_object(payload, SLO_FIELDS, error=SloError)
    name = check_name(body.get("name"), error=SloError)
    sli = _parse_sli(body.get("sli"))
    return SloSpec(
        name=name, sli=sli, threshold=_parse_threshold(body.get("threshold"), SLIS[sli]),
        target=_parse_target(body.get("target")), window=_parse_window(body.get("window")),
        filters=check_filters(body.get("filters"), SLO_FILTER_KEYS, error=SloError),
        channels=check_channels(body.get("channels"), known_channels, error=SloError),
        description=_parse_description(body.get("description")),
    )


def stored_slo(spec: Mapping[str, Any]) -> SloSpec:
    """An SLO as stored; its channels were checked when it was saved."""
    return parse_slo(spec, known_channels=set(spec.get("channels") or ()))


def _parse_sli(value: Any) -> str:
    if not isinstance(value, str) or value not in SLIS:
        shown = "missing" if value is None else f"{value!r}"
        raise SloError(f"unknown sli ({shown}); known SLIs: {', '.join(SLIS)}", "sli")
    return value


def _parse_threshold(value: Any, info: SliInfo) -> float | None:
    """Latency, TTFT and cost need a bound (a positive number in their unit); the others take none."""
    if info.unit is None:
        if value is not None:
            raise SloError(f"the {info.name} SLI takes no threshold; remove it", "threshold")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise SloError(f"threshold is required for the {info.name} SLI: a positive number in {info.unit}",
                       "threshold")
    return float(value)


def _parse_target(value: Any) -> float:
    """A share strictly between 0 and 1: 99.9 % is 0.999. 1 would leave no error budget at all."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
        raise SloError(f"target must be a number strictly between 0 and 1 (99.9% is 0.999), not {value!r}",
                       "target")
    return float(value)


def _parse_window(value: Any) -> timedelta:
    if value is None:
        raise SloError('window is required, e.g. "28d" or "30d"', "window")
    window = parse_duration(value, "window")
    if not MIN_WINDOW <= window <= MAX_WINDOW:
        raise SloError(f"window {value!r} must be between {format_duration(MIN_WINDOW)} and "
                       f"{format_duration(MAX_WINDOW)}", "window")
    return window


def _parse_description(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > MAX_DESCRIPTION:
        raise SloError(f"description must be a text of at most {MAX_DESCRIPTION} characters", "description")
    return value
