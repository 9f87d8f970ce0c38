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
# Most tests start a service and wait on it, so two workers (LLMPULSE_TEST_WORKERS) share the two
# cores well; a file's tests stay on one worker (its module fixtures are built once). Their data
# directories go to tmpfs when there is room: hundreds of throwaway databases, whose DDL then pays
# no fsync. Pass `-n 0` to run in one process.
if [ -z "${PYTEST_DEBUG_TEMPROOT:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ] \
   && [ "$(df -Pk /dev/shm | awk 'NR==2 {print $4}')" -gt 4000000 ]; then
  PYTEST_DEBUG_TEMPROOT="$(mktemp -d /dev/shm/llmpulse-tests.XXXXXX)"
  export PYTEST_DEBUG_TEMPROOT
  trap 'rm -rf "$PYTEST_DEBUG_TEMPROOT"' EXIT
fi
"$VENV/bin/python" -m pytest -p no:cacheprovider -q -n "${LLMPULSE_TEST_WORKERS:-2}" --dist loadfile "$@"
