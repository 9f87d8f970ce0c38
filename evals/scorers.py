"""Deterministic scorers of one answer against its dataset item.

Each returns a `Check`; a check with `gates=True` decides, with the others that gate, whether the
item passed. The assertions an item carries always gate (they are what its author asked for); a
structured-output parse failure is a failure. The expected answer gates through
`expected_match` unless the caller has a better judge of correctness (the LLM judge), in which
case the match stays informative.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator

_PUNCTUATION = re.compile(r"[^\w\s]", re.UNICODE)
_SPACE = re.compile(r"\s+")
_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)


@dataclass(frozen=True)
class Check:
    name: str
    value: float  # 1.0 met, 0.0 not met
    gates: bool  # counts towards the item's pass
    reason: str = ""

    @property
    def passed(self) -> bool:
        return self.value >= 1.0


def score_answer(output: str, expected: str | None, assertions: dict[str, Any],
                 expected_gates: bool = True) -> list[Check]:
    """Every deterministic check that applies to this item."""
    checks = [CHECKS[kind](output, spec) for kind, spec in assertions.items() if kind in CHECKS]
    if expected is not None:
        checks += [check_exact(output, expected), check_expected_match(output, expected, expected_gates)]
    return checks


def item_passed(checks: list[Check]) -> bool:
    """Passed when every gating check is met; an item with no gating check passes when it answered."""
    return all(check.passed for check in checks if check.gates)


def check_exact(output: str, expected: str) -> Check:
    met = output.strip() == expected.strip()
    return Check("exact_match", float(met), False, "" if met else "the answer differs from the expected one")


def check_expected_match(output: str, expected: str, gates: bool) -> Check:
    """The expected answer, normalized, is the answer or a whole-word part of it ("Paris" in "It is
    Paris."): golden sets hold short expected answers, models answer in sentences."""
    answer, wanted = normalize_text(output), normalize_text(expected)
    met = bool(wanted) and (answer == wanted or re.search(rf"(?<!\w){re.escape(wanted)}(?!\w)", answer) is not None)
    return Check("expected_match", float(met), gates,
                 "" if met else f"the expected answer {_clip(expected)!r} is not in the answer")


def normalize_text(text: str) -> str:
    """Case, accents' composition, punctuation and runs of white space do not count."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _SPACE.sub(" ", _PUNCTUATION.sub(" ", folded)).strip()


def check_must_contain(output: str, texts: list[str]) -> Check:
    missing = [text for text in texts if text.casefold() not in output.casefold()]
    return Check("must_contain", float(not missing), True, f"missing {_listed(missing)}" if missing else "")


def check_must_not_contain(output: str, texts: list[str]) -> Check:
    found = [text for text in texts if text.casefold() in output.casefold()]
    return Check("must_not_contain", float(not found), True, f"contains {_listed(found)}" if found else "")


def check_regex(output: str, pattern: str) -> Check:
    met = re.search(pattern, output) is not None
    return Check("regex", float(met), True, "" if met else f"no match for /{pattern}/")


def check_valid_json(output: str, _spec: Any = True) -> Check:
    _, error = parse_json(output)
    return Check("valid_json", float(error is None), True, error or "")


def check_json_schema(output: str, schema: dict[str, Any]) -> Check:
    value, error = parse_json(output)
    if error is not None:
        return Check("json_schema", 0.0, True, error)
    problem = next(iter(Draft202012Validator(schema).iter_errors(value)), None)
    where = "/".join(str(part) for part in problem.absolute_path) if problem else ""
    return Check("json_schema", float(problem is None), True,
                 f"breaks the schema at /{where}: {problem.message}" if problem else "")


def parse_json(output: str) -> tuple[Any, str | None]:
    """The answer as JSON; a fenced ```json block counts (models wrap JSON so), prose does not."""
    text = output.strip()
    fenced = _FENCE.match(text)
    try:
        return json.loads(fenced.group(1) if fenced else text), None
    except ValueError as exc:
        return None, f"not valid JSON: {exc}"


def _listed(texts: list[str]) -> str:
    return ", ".join(map(repr, texts))


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


CHECKS: dict[str, Callable[[str, Any], Check]] = {
    "must_contain": check_must_contain, "must_not_contain": check_must_not_contain, "regex": check_regex,
    "valid_json": check_valid_json, "json_schema": check_json_schema,
}
