"""Run llmpulse's compiled hot-path modules from their Python source, in this process only.

`python -m tests.interpreted` reads pickled (project, spans, log records) from stdin and writes
the pickled rows that the *interpreted* modules make of them, so tests/unit/test_compiled.py can
hold them equal to what the compiled modules (mypyc, built by the install) make.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import pickle
import sys
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def compiled_modules() -> dict[str, Path]:
    """Module name → source path of every module pyproject.toml lists for mypyc."""
    listed = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["llmpulse"]["compiled"]
    return {path.removesuffix(".py").replace("/", "."): ROOT / path for path in listed}


def stale_builds() -> list[str]:
    """Listed modules whose compiled file is older than their source: importing them would run old code."""
    stale = []
    for name, source in compiled_modules().items():
        spec = importlib.util.find_spec(name)
        origin = Path(spec.origin) if spec and spec.origin else source
        if origin != source and origin.stat().st_mtime < source.stat().st_mtime:
            stale.append(f"{name} ({origin.name} is older than {source.relative_to(ROOT)})")
    return stale


class SourceFirst(importlib.abc.MetaPathFinder):
    """Finds the listed modules as Python source, ahead of the extension modules beside them."""

    def __init__(self, modules: dict[str, Path]) -> None:
        self.modules = modules

    def find_spec(self, name: str, path: object = None, target: ModuleType | None = None
                  ) -> importlib.machinery.ModuleSpec | None:
        source = self.modules.get(name)
        return importlib.util.spec_from_file_location(name, source) if source else None


def make_rows(project: str, spans: list[Any], records: list[Any], overrides: list[dict[str, Any]]) -> Any:
    """(priced rows, log-record messages, column lists): what the hot-path modules make of the input,
    compiled or interpreted depending on which were imported."""
    from collector.messages import extract_log_messages
    from collector.normalize import normalize_span
    from collector.pricing import PriceBook, PriceOverride, price_row
    from schemas.clickhouse.columns import column_lists
    from schemas.fields import SPAN_COLUMNS

    book = PriceBook([PriceOverride(**override) for override in overrides])
    rows = []
    for span in spans:
        row = normalize_span(span, project, 2000)
        price_row(row, book)
        rows.append(row)
    return rows, extract_log_messages(records, 2000), column_lists(rows, SPAN_COLUMNS)


def main() -> None:
    sys.meta_path.insert(0, SourceFirst(compiled_modules()))
    for name in compiled_modules():
        module = importlib.import_module(name)
        assert module.__file__ is not None and module.__file__.endswith(".py"), f"{name} not loaded from source"
    pickle.dump(make_rows(*pickle.load(sys.stdin.buffer)), sys.stdout.buffer)


if __name__ == "__main__":
    main()
