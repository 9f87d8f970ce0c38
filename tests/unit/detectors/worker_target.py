"""A worker target whose import leaves a mark, to see when the worker child imports it."""

from __future__ import annotations

import os
from pathlib import Path

Path(os.environ["LLMPULSE_TEST_IMPORT_MARK"]).write_text(str(os.getpid()))


def echo(value: object) -> object:
    return value
