#!/usr/bin/env bash
# Set up (first run only) and run the whole test suite: ruff, then pytest (unit, integration, e2e).
# Extra arguments go to pytest, e.g. scripts/test.sh -m "not slow" tests/unit.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh" "test"
# Browser tests drive Debian's Chromium through its chromedriver (a test tool's own browser
# download cannot work on a closed network).
if ! [ -x /usr/bin/chromium ] || ! [ -x /usr/bin/chromedriver ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
fi
cd "$ROOT"
"$VENV/bin/ruff" check .
"$VENV/bin/python" -m pytest -p no:cacheprovider -q "$@"
