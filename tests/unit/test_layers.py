"""Lower layers never import upper ones: schemas < collector < detectors < evals < dashboard < llmpulse."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ["schemas", "collector", "detectors", "evals", "dashboard", "llmpulse"]


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("layer", LAYERS[:-1])
def test_layer_imports_nothing_above_it(layer: str) -> None:
    above = set(LAYERS[LAYERS.index(layer) + 1:])
    offenders = {str(path.relative_to(ROOT)): sorted(imported_packages(path) & above)
                 for path in sorted((ROOT / layer).rglob("*.py"))}
    assert {path: names for path, names in offenders.items() if names} == {}
