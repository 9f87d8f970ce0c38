# Sourced by serve.sh and test.sh: create .venv and install llmpulse (with extras in $1) once,
# again whenever pyproject.toml or a C source (compiled by the install) changes.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${LLMPULSE_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"
extras="${1:-}"
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --upgrade pip
fi
stamp="$VENV/.llmpulse-installed-${extras:-base}"
stale=""
for source in "$ROOT/pyproject.toml" "$ROOT"/collector/*.c; do
  [ -f "$stamp" ] && [ ! "$source" -nt "$stamp" ] || stale=1
done
if [ -n "$stale" ]; then
  spec="$ROOT"
  [ -n "$extras" ] && spec="$ROOT[$extras]"
  "$VENV/bin/pip" install --quiet -e "$spec"
  touch "$stamp"
fi
