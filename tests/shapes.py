"""A comparable picture of a value, for tests that must tell apart what `==` lets through.

`==` alone lets 1 == 1.0 == True pass, ignores dict order (which normalization reads in) and
fails every NaN; this picture keeps types, order and float bits.
"""

from __future__ import annotations

import dataclasses
import struct
from typing import Any


def shape(value: Any) -> Any:
    if isinstance(value, dict):
        return ("dict", [(shape(k), shape(v)) for k, v in value.items()])
    if isinstance(value, list | tuple):
        return (type(value).__name__, [shape(v) for v in value])
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (type(value).__name__, [shape(getattr(value, f.name)) for f in dataclasses.fields(value)])
    if isinstance(value, float):
        return ("float", struct.pack("<d", value))
    return (type(value).__name__, value)
