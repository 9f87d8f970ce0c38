"""Request parsing shared by every API blueprint: times, numbers, choices, the project, errors."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from flask import request

from schemas.clickhouse.filters import DIMENSIONS, FILTER_NAMES, SIGNAL, SIGNALS
from schemas.metadata.models import DEFAULT_PROJECT
from schemas.metadata.store import Metadata
from schemas.shadow_fields import SHADOW_MODES, SHADOW_SPLIT


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# What ClickHouse's DateTime64 holds; a time outside it means "since/until forever" and is clamped.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2299, 12, 31, 23, 59, 59, tzinfo=UTC)
MAX_EPOCH_SECONDS = 1e11  # the year 5138: a larger number is milliseconds or nanoseconds


def parse_time(text: str | None, default: datetime, name: str) -> datetime:
    """ISO-8601 (naive means UTC) or epoch seconds, clamped to the years storage can hold."""
    if text is None or text == "":
        return default
    value = _epoch_seconds(text, name)
    if value is None:
        value = _iso_time(text, name)
    return min(max(value, EARLIEST), LATEST)


def _epoch_seconds(text: str, name: str) -> datetime | None:
    try:
        seconds = float(text)
    except ValueError:
        return None
    if not abs(seconds) < MAX_EPOCH_SECONDS:  # also NaN and infinities
        raise ApiError(400, f"{name}={text!r} is not a time in epoch seconds (milliseconds or nanoseconds? "
                            "divide them) nor ISO-8601 (2026-11-23T10:00:00Z)")
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)


def _iso_time(text: str, name: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, f"{name}={text!r} is not a time: use ISO-8601 (2026-11-23T10:00:00Z) "
                            "or epoch seconds") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def time_range(default_span: timedelta = timedelta(days=1)) -> tuple[datetime, datetime]:
    end = parse_time(request.args.get("to"), datetime.now(UTC), "to")
    start = parse_time(request.args.get("from"), max(end - default_span, EARLIEST), "from")
    if start >= end:
        raise ApiError(400, f"from ({start.isoformat()}) must be before to ({end.isoformat()})")
    return start, end


MAX_POINTS = 5000  # points a time series answers at most: past this a chart only draws noise


def bucketed_range(bucket_seconds: Mapping[str, int]) -> tuple[datetime, datetime, str]:
    """`from`/`to` (a day by default) and `bucket=` (an hour by default, one of `bucket_seconds`'
    keys); 400 when the buckets over the range would be more than MAX_POINTS points."""
    start, end = time_range(timedelta(days=1))
    bucket = choice_arg("bucket", bucket_seconds, "hour") or "hour"
    if (end - start).total_seconds() / bucket_seconds[bucket] > MAX_POINTS:
        raise ApiError(400, f"bucket={bucket} over this range gives more than {MAX_POINTS} points; "
                            "use a larger bucket or a shorter range")
    return start, end, bucket


def int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"{name}={raw!r} is not a whole number") from None
    if not low <= value <= high:
        raise ApiError(400, f"{name} must be between {low} and {high}, got {value}")
    return value


def choice_arg(name: str, choices: Any, default: str | None) -> str | None:
    value = request.args.get(name) or default
    if value is not None and value not in choices:
        raise ApiError(400, f"{name}={value!r} is not one of: {', '.join(sorted(choices))}")
    return value


def project_arg(metadata: Metadata) -> str:
    """`project=` of the request (default `default`); 404 for a project that does not exist."""
    name = request.args.get("project") or DEFAULT_PROJECT
    if metadata.get_project(name) is None:
        raise ApiError(404, f"project {name!r} does not exist")
    return name


def json_body() -> dict[str, Any]:
    """The request's JSON object, or a 400 that says what was wrong with it."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "the request body must be a JSON object (Content-Type: application/json)")
    return body


# What endpoints declare with `takes`: the project, the window, the filters of every read.
PROJECT = ("project",)
WINDOW = ("from", "to")
FILTERS = FILTER_NAMES  # model, provider, service, environment, user, session, tag, signal
DIMENSION_FILTERS = tuple(DIMENSIONS)  # for reads of tables that keep no failure signal (the shadow pairs)
SHADOW = ("shadow",)  # how shadow calls count (`schemas.shadow_fields`)
_TAKES = "llmpulse_query_params"
View = TypeVar("View", bound=Callable[..., Any])


def takes(*groups: Iterable[str]) -> Callable[[View], View]:
    """Declare the query parameters an API view accepts; `check_query` answers any other with a
    400, so a filter an endpoint does not apply is refused rather than silently ignored."""
    names = tuple(dict.fromkeys(name for group in groups for name in group))

    def declare(view: View) -> View:
        setattr(view, _TAKES, names)
        return view
    return declare


def accepted_params(view: Callable[..., Any]) -> tuple[str, ...] | None:
    """What `takes` declared for `view`; None when nothing was declared."""
    return getattr(view, _TAKES, None)


def check_query(view: Callable[..., Any]) -> None:
    """400 for a query parameter `view` does not take (an undeclared view takes none)."""
    accepted = accepted_params(view) or ()
    unknown = sorted(set(request.args) - set(accepted))
    if unknown:
        takes_text = ", ".join(accepted) if accepted else "no parameters"
        raise ApiError(400, f"unknown parameter {unknown[0]!r}; this endpoint takes: {takes_text}")


def filter_args() -> dict[str, str]:
    """The request's filters (`FILTERS`) that have a value; an unknown `signal=` is a 400, not an empty answer."""
    found = {name: request.args[name] for name in FILTERS if request.args.get(name)}
    if SIGNAL in found and found[SIGNAL] not in SIGNALS:
        raise ApiError(400, f"signal={found[SIGNAL]!r} is not one of: {', '.join(SIGNALS)}")
    return found


def alias_arg(name: str, alias: str) -> str | None:
    """`name=`, or `alias=` (the same thing under another name); both with different values is a 400."""
    value, other = request.args.get(name), request.args.get(alias)
    if value and other and value != other:
        raise ApiError(400, f"{name}= and {alias}= are the same parameter; give one")
    return value or other or None


def shadow_arg() -> str:
    """`shadow=`: split (default: spend counts shadow calls, request figures do not), exclude,
    include or only."""
    return choice_arg("shadow", SHADOW_MODES, SHADOW_SPLIT) or SHADOW_SPLIT
