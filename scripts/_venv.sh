# Sourced by serve.sh and test.sh: create .venv and install llmpulse (with extras in $1) once,
# again whenever pyproject.toml, setup.py or a source the install compiles (collector/*.c and the
# modules pyproject.toml lists for mypyc) changes: a stale compiled module would shadow its source.
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
mapfile -t compiled < <("$PYTHON" -c 'import sys, tomllib
for path in tomllib.load(open(sys.argv[1] + "/pyproject.toml", "rb"))["tool"]["llmpulse"]["compiled"]:
    print(sys.argv[1] + "/" + path)' "$ROOT")
stale=""
for source in "$ROOT/pyproject.toml" "$ROOT/setup.py" "$ROOT"/collector/*.c "${compiled[@]}"; do
  [ -f "$stamp" ] && [ ! "$source" -nt "$stamp" ] || stale=1
done
if [ -n "$stale" ]; then
  spec="$ROOT"
  [ -n "$extras" ] && spec="$ROOT[$extras]"
  "$VENV/bin/pip" install --quiet -e "$spec"
  touch "$stamp"
fi
