"""The convention tables applied to one span's attributes: which sources each field has, and
which GenAI convention the span follows.

The tables are data (`schemas.conventions`); this reads them once into a per-name index, then
once per distinct set of attribute names (`_plan`), so a field a span lacks costs one dict
lookup. JSON-valued attributes are parsed only when present, at most once per span (`Reader`).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, NamedTuple

from collector.coerce import as_decimal, loads
from schemas import conventions as cv
from schemas import message_carriers as mc
from schemas.records import RawSpan

# Inside this module a span is read untyped (see `collector.normalize`).
AnySpan = Any

# Detection ranks: exact marker keys (in MARKER_KEYS order) beat attribute-name prefixes.
_MARKER_CONVENTIONS = tuple(c for c, _ in cv.MARKER_KEYS) + tuple(c for c, _ in cv.MARKER_PREFIXES)
_NO_MARKER = len(_MARKER_CONVENTIONS)
_MARKER_PREFIXES = tuple(prefix for _, prefixes in cv.MARKER_PREFIXES for prefix in prefixes)
_PREFIX_RANKS = {
    prefix: len(cv.MARKER_KEYS) + rank for rank, (_, prefixes) in enumerate(cv.MARKER_PREFIXES) for prefix in prefixes
}
_MAX_LEARNED_KEYS = 100_000  # bound on the per-name cache (attribute names are few, but never trust that)
# attribute name → (field sources it feeds, detection rank, flattened-content prefix or "")
_KeyInfo = tuple[tuple[tuple[str, int, cv.Source], ...], int, str]


def _index_keys() -> dict[str, _KeyInfo]:
    """Everything the tables say about each attribute name they mention, computed once."""
    sources: dict[str, tuple[tuple[str, int, cv.Source], ...]] = {}
    for field, entries in cv.FIELD_SOURCES.items():
        for rank, source in enumerate(entries):
            sources[source.key] = (*sources.get(source.key, ()), (field, rank, source))
    names = set(sources).union(*(markers for _, markers in cv.MARKER_KEYS))
    return {name: _describe_key(name, sources.get(name, ())) for name in names}


def _describe_key(name: str, sources: tuple[tuple[str, int, cv.Source], ...]) -> _KeyInfo:
    marker = next((rank for rank, (_, markers) in enumerate(cv.MARKER_KEYS) if name in markers), _NO_MARKER)
    if marker == _NO_MARKER and name.startswith(_MARKER_PREFIXES):
        marker = _PREFIX_RANKS[next(p for p in _MARKER_PREFIXES if name.startswith(p))]
    indexed = next((p for p in mc.INDEXED_PREFIXES if name.startswith(p)), "")
    return sources, marker, indexed


_KEY_INFO: dict[str, _KeyInfo] = _index_keys()


def _key_info(key: Any) -> _KeyInfo:
    """`_KEY_INFO` entry of any attribute name, learning (and caching) names the tables lack."""
    info = _KEY_INFO.get(key)
    if info is None:
        info = _describe_key(key, ()) if type(key) is str else ((), _NO_MARKER, "")
        if len(_KEY_INFO) < _MAX_LEARNED_KEYS:
            _KEY_INFO[key] = info
    return info


class _Plan(NamedTuple):
    """What the tables say about one set of attribute names: computed once per distinct set."""

    hits: dict[str, tuple[tuple[int, cv.Source], ...]]  # field → its sources present, in table order
    marker: int  # best convention marker rank among the names
    indexed: tuple[tuple[str, str], ...]  # (prefix, name) of flattened `prefix.{i}.…` content


_MAX_PLANS = 2_000  # name sets remembered (≤ a few MB); flattened message content makes them vary
_PLANS: dict[tuple[Any, ...], _Plan] = {}


def _plan(attrs: dict[str, Any]) -> _Plan:
    """The plan of `attrs`' names: spans of one instrumentation share it, so it is built once."""
    names = tuple(attrs)
    plan = _PLANS.get(names)
    if plan is None:
        plan = _build_plan(names)
        if len(_PLANS) < _MAX_PLANS:
            _PLANS[names] = plan
    return plan


def _build_plan(names: tuple[Any, ...]) -> _Plan:
    hits: dict[str, list[tuple[int, cv.Source]]] = {}
    marker, indexed = _NO_MARKER, []
    for name in names:
        sources, name_marker, prefix = _key_info(name)
        marker = min(marker, name_marker)
        if prefix:
            indexed.append((prefix, name))
        for field, rank, source in sources:
            hits.setdefault(field, []).append((rank, source))
    ordered = {field: tuple(sorted(found, key=_rank)) for field, found in hits.items()}
    return _Plan(ordered, marker, tuple(indexed))


class Reader:
    """Resolves canonical fields over one span's attributes.

    The span's plan (`_plan`) says which table entries are present, the convention marker and
    the flattened `prefix.{i}.…` content attributes, so a field the span lacks costs one dict
    lookup however many sources it has. JSON blobs are parsed once, and only when read.
    """

    __slots__ = ("attrs", "blobs", "hits", "indexed", "llm", "marker")

    def __init__(self, attrs: dict[str, Any], llm: bool) -> None:
        self.attrs = attrs
        self.blobs: dict[str, Any] = {}
        self.llm = llm
        plan = _plan(attrs)
        self.hits = plan.hits
        self.marker = plan.marker
        self.indexed: dict[str, dict[str, Any]] = {}
        for prefix, name in plan.indexed:
            self.indexed.setdefault(prefix, {})[name[len(prefix):]] = attrs[name]

    def first(self, field: str, coerce: Any, streaming: bool = False) -> tuple[Any, cv.Source | None]:
        """First non-null source of `field` in table order, and which source it was."""
        found = self.hits.get(field)
        if found is None:
            return None, None
        attrs = self.attrs
        for _, source in found:
            raw = attrs[source.key]
            if raw is None or (source.streaming_only and not streaming) or (source.llm_only and not self.llm):
                continue
            if source.path:
                raw = dig(self.blob(source.key), source.path)
            value = None if raw is None else coerce(raw)
            if value is not None and not (source.zero_is_null and value == 0):
                return value, source
        return None, None

    def value(self, field: str, coerce: Any, default: Any = None) -> Any:
        if field not in self.hits:
            return default
        found, _ = self.first(field, coerce)
        return default if found is None else found

    def blob(self, key: str) -> Any:
        if key not in self.blobs:
            raw = self.attrs.get(key)
            self.blobs[key] = raw if isinstance(raw, dict | list) else loads(raw)
        return self.blobs[key]


def _rank(entry: tuple[int, cv.Source]) -> int:
    return entry[0]


def dig(node: Any, path: tuple[str, ...]) -> Any:
    """The value at a table Source's path inside a parsed JSON attribute (`collector.counts` reads
    the same paths before the ack, so both must walk them alike)."""
    for step in path:
        if isinstance(node, list) and cv.ITEM_WHERE in step:
            node = _item_where(node, step)
        elif not isinstance(node, dict):
            return None
        else:
            node = _sum_parts(node) if step == cv.SUM_OF_PARTS else node.get(step)
    return node


def _item_where(items: list[Any], step: str) -> Any:
    """The first object of `items` whose `key` is `value` (step `key=value`), matched case-blind."""
    key, _, value = step.partition(cv.ITEM_WHERE)
    value = value.lower()
    for item in items:
        if isinstance(item, dict) and str(item.get(key, "")).lower() == value:
            return item
    return None


def _sum_parts(parts: dict[str, Any]) -> Decimal | None:
    """Total of a cost breakdown that has no total of its own; None when no part is a number."""
    amounts = [as_decimal(value) for value in parts.values() if type(value) in (int, float, str)]
    found = [amount for amount in amounts if amount is not None]
    return sum(found, Decimal(0)) if found else None


def detect_convention(span: RawSpan) -> str:
    """Which GenAI convention a span follows ('' for a span that is not GenAI at all)."""
    raw: AnySpan = span
    attrs = raw.attributes if isinstance(raw.attributes, dict) else {}
    marker = min((_key_info(key)[1] for key in attrs), default=_NO_MARKER)
    return pick_convention(raw.scope_name, attrs, marker)


def pick_convention(scope: Any, attrs: dict[str, Any], marker: int) -> str:
    """Scope name first (most specific), then OpenLIT's sdk stamp, then attribute markers."""
    scope = scope if isinstance(scope, str) else ""
    for prefix, convention in cv.SCOPE_CONVENTIONS:
        if scope.startswith(prefix):
            return convention
    if scope == cv.VERCEL_SCOPE:
        return cv.VERCEL_AI
    if attrs.get(cv.SDK_NAME_KEY) == cv.OPENLIT_SDK_NAME:
        return cv.OPENLIT
    return _MARKER_CONVENTIONS[marker] if marker < _NO_MARKER else cv.NO_CONVENTION
