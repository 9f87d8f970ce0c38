"""Token counts made to follow the OTel rule, by the convention table alone.

input_tokens counts every input token (cached and audio ones included) and output_tokens every
generated one (reasoning and audio included); the part columns say how much of each whole is
cached, reasoning or audio. Instrumentations disagree on whether a count includes its parts, and
the numbers cannot tell: a count of 5,734 beside 4,482 cached tokens may or may not hold them.
So which count leaves which parts out is data (`EXCLUSIVE_INPUT` / `EXCLUSIVE_OUTPUT` in
`schemas.token_parts`), looked up by convention, provider and version markers; a count that no
rule names is inclusive, whatever its size. Pure functions, compiled with `normalize`.
"""

from __future__ import annotations

from collections.abc import Container
from typing import Any

from schemas import conventions as cv
from schemas import fields as f
from schemas import token_parts as tp

RuleIndex = dict[tuple[str, int], tuple[tp.ExclusiveCount, ...]]

# The parts normalization reads beside the two wholes.
PART_FIELDS = (
    f.CACHE_READ_TOKENS, f.CACHE_WRITE_TOKENS, f.REASONING_TOKENS, f.INPUT_AUDIO_TOKENS, f.OUTPUT_AUDIO_TOKENS,
)


def index_rules(rules: tuple[tp.ExclusiveCount, ...], table: str) -> RuleIndex:
    """(convention, id of a table Source) → its rules: a span looks them up by the Source object
    that gave its count, without rebuilding that source's textual id every time."""
    index: RuleIndex = {}
    sources = [source for entries in cv.FIELD_SOURCES.values() for source in entries]
    for rule in rules:
        matching: list[cv.Source | None] = [source for source in sources if source.source_id == rule.source]
        if rule.source == tp.NO_COUNT:
            matching = [None]
        elif not matching:  # a typo in the table would silently price tokens twice, or not at all
            raise ValueError(f"{table} names {rule.source!r}, which no FIELD_SOURCES entry has")
        unknown = [part for part in rule.leaves_out if part not in PART_FIELDS]
        if unknown:
            raise ValueError(f"{table} rule for {rule.source!r} leaves out unknown parts {unknown}")
        for source in matching:
            key = (rule.convention, id(source))
            index[key] = (*index.get(key, ()), rule)
    return index


EXCLUSIVE_INPUT = index_rules(tp.EXCLUSIVE_INPUT, "EXCLUSIVE_INPUT")
EXCLUSIVE_OUTPUT = index_rules(tp.EXCLUSIVE_OUTPUT, "EXCLUSIVE_OUTPUT")


class CallScope:
    """What the rules are matched on: the span's convention, its provider (normalized, and as
    spelled) and its attribute names (the version markers)."""

    __slots__ = ("attrs", "convention", "provider", "spelled")

    def __init__(self, convention: str, provider: str, spelled: str, attrs: Container[Any]) -> None:
        self.convention = convention
        self.provider = provider
        self.spelled = spelled.strip().lower()
        self.attrs = attrs


def left_out(index: RuleIndex, scope: CallScope, source: cv.Source | None) -> tuple[str, ...]:
    """The part columns that the count read from `source` (None: no count) leaves out, per the table."""
    rules = index.get((scope.convention, id(source)))
    if not rules:
        return ()
    parts: tuple[str, ...] = ()
    for rule in rules:
        named = rule.provider in (cv.ANY, scope.provider) or scope.spelled.startswith(rule.provider + ".")
        if named and not any(key in scope.attrs for key in rule.unless):
            parts = (*parts, *(part for part in rule.leaves_out if part not in parts))
    return parts


def token_columns(
    wholes: tuple[int, int], sources: tuple[cv.Source | None, cv.Source | None], parts: dict[str, int],
    total: int | None, scope: CallScope,
) -> dict[str, int]:
    """The token columns of one call: (input, output) made inclusive where the table says their
    source left a part out."""
    added_in = left_out(EXCLUSIVE_INPUT, scope, sources[0])
    added_out = left_out(EXCLUSIVE_OUTPUT, scope, sources[1])
    input_tokens = wholes[0] + sum(parts[part] for part in added_in)
    output = wholes[1] + sum(parts[part] for part in added_out)
    if input_tokens != wholes[0] or output != wholes[1]:  # a part was added: the total follows
        total = max(total or 0, input_tokens + output)
    return {
        f.INPUT_TOKENS: input_tokens, f.OUTPUT_TOKENS: output,
        f.CACHE_READ_TOKENS: parts[f.CACHE_READ_TOKENS], f.CACHE_WRITE_TOKENS: parts[f.CACHE_WRITE_TOKENS],
        f.REASONING_TOKENS: parts[f.REASONING_TOKENS],
        f.TOTAL_TOKENS: input_tokens + output if total is None else total,
        f.INPUT_AUDIO_TOKENS: parts[f.INPUT_AUDIO_TOKENS], f.OUTPUT_AUDIO_TOKENS: parts[f.OUTPUT_AUDIO_TOKENS],
    }
