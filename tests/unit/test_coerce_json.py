"""collector.coerce's JSON: orjson on the hot path, the standard library's answer everywhere else.

`loads` must give exactly what `json.loads` gives (or None where that raises), whichever parser
answered; `dumps` must write what the standard compact encoder writes, except that non-finite
floats become null and a float may be spelled differently, never valued differently.
"""

from __future__ import annotations

import json
import math
import random
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from collector.coerce import dumps, loads
from tests.corpus import corpus_available, iter_payload_records, labels
from tests.shapes import shape

STANDARD = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str)


def _standard_loads(text: Any) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def _random_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.choice(["str", "int", "float", "bool", "none"] + (["list", "dict"] if depth < 4 else []))
    if kind == "str":
        return rng.choice(["", "plain", "ünïcödé ✓ \u2028", "tab\there\nnew \x00\x1f\x7f", '"quoted" \\ /', "𝄞"])
    if kind == "int":
        return rng.choice([0, -1, 2**63 - 1, -(2**63), 2**64 - 1, rng.randint(-10**12, 10**12)])
    if kind == "float":
        return rng.choice([0.0, -0.0, 0.1, 1.5, 1e-7, 1e16, 123456.789, rng.random() * 10 ** rng.randint(-20, 20)])
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "list":
        return [_random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    if kind == "dict":
        return {rng.choice(["role", "content", "parts", "ключ", ""]): _random_value(rng, depth + 1) for _ in range(3)}
    return None


def _corpus_json_texts() -> list[str]:
    if not corpus_available():
        return []
    texts = []
    for label in labels():
        for payload in iter_payload_records(label, "traces"):
            if payload.decoded_json_path.exists():
                texts.append(payload.decoded_json_path.read_text())
    return texts


RANDOM_VALUES = [_random_value(random.Random(seed)) for seed in range(500)]


def test_loads_reads_json_exactly_as_the_standard_parser() -> None:
    texts = [STANDARD.encode(v) for v in RANDOM_VALUES] + [json.dumps(v) for v in RANDOM_VALUES]
    texts += _corpus_json_texts()
    for text in texts:
        assert shape(loads(text)) == shape(json.loads(text))
        assert shape(loads(text.encode())) == shape(json.loads(text.encode()))


@pytest.mark.parametrize("text", [
    "NaN", "[Infinity, -Infinity]", str(2**70), str(-(2**63) - 1), "[9223372036854775808]",
    '{"a": 18446744073709551616}', '"\\ud800"',
    json.dumps({"x": 1}).encode("utf-16"), "[" * 2000 + "]" * 2000, "1E400", "-0", "1.0e-400",
])
def test_what_orjson_refuses_is_read_by_the_standard_parser(text: Any) -> None:
    ours, standard = loads(text), _standard_loads(text)
    # Python 3.12+ reads 2,000 nested lists (3.11 raised RecursionError): deeper than `shape` can walk
    # with the default limit, so give the comparison room.
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))
    try:
        assert shape(ours) == shape(standard)
    finally:
        sys.setrecursionlimit(limit)


@pytest.mark.parametrize("text", ["", "{", "nope", "[1,]", '{"a":1,}', b"\xff\xfe\x00", "'single'"])
def test_loads_answers_none_for_what_is_not_json(text: Any) -> None:
    assert loads(text) is None


def test_loads_answers_none_for_what_is_not_text() -> None:
    assert loads(None) is None and loads(12) is None and loads(["[]"]) is None


def test_dumps_writes_what_the_standard_encoder_writes() -> None:
    for value in RANDOM_VALUES:
        ours, standard = dumps(value), STANDARD.encode(value)
        if "float" in repr(shape(value)):  # same values; a float may be spelled 1e16 for 1e+16
            assert shape(json.loads(ours)) == shape(json.loads(standard))
        else:
            assert ours == standard


@dataclass
class _Record:
    name: str


def test_dumps_turns_what_json_cannot_hold_into_text_as_before() -> None:
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    odd = {"at": moment, "price": Decimal("0.10"), "record": _Record("x"), "set": {1}, 7: "int key", None: 1}
    assert dumps(odd) == STANDARD.encode(odd)
    assert dumps({"big": 2**80, "lone": "\ud800"}) == STANDARD.encode({"big": 2**80, "lone": "\ud800"})


def test_dumps_writes_valid_json_for_non_finite_floats() -> None:
    assert json.loads(dumps([math.nan, math.inf, -math.inf, 1.5])) == [None, None, None, 1.5]


def test_dumps_never_raises_on_a_circular_structure() -> None:
    loop: list[Any] = []
    loop.append(loop)
    assert dumps(loop) == "[[...]]"
