#!/usr/bin/env bash
# Set up (first run only) and run the whole test suite: ruff, then pytest (unit, integration, e2e).
# Extra arguments go to pytest, e.g. scripts/test.sh -m "not slow" tests/unit.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh" "test"
cd "$ROOT"
"$VENV/bin/ruff" check .
"$VENV/bin/python" -m pytest -p no:cacheprovider -q "$@"
