"""Native parts of the ingest hot path; everything else is configured in pyproject.toml.

- `collector._otlp`: the C reader of OTLP trace bodies (collector/_otlp.c).
- mypyc compiles the modules that pyproject.toml lists under [tool.llmpulse] compiled: the
  typed Python source is both the reference and what gets compiled, so there is no second
  implementation to keep in step.
"""

import tomllib
from pathlib import Path

from mypyc.build import mypycify
from setuptools import Extension, setup

ROOT = Path(__file__).parent
COMPILED = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["llmpulse"]["compiled"]

otlp = Extension("collector._otlp", sources=["collector/_otlp.c"], extra_compile_args=["-O2", "-Wall", "-Werror"])
setup(ext_modules=[otlp, *mypycify(COMPILED, opt_level="3", group_name="llmpulse_hotpath")])
