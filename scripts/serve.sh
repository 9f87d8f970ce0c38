#!/usr/bin/env bash
# Set up (first run only) and start llmpulse on embedded storage: chDB + SQLite under ./.llmpulse.
# Extra arguments go to `llmpulse serve`, e.g. scripts/serve.sh --ui-port 9000.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh" ""
exec "$VENV/bin/llmpulse" serve "$@"
