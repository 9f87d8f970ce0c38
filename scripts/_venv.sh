# Sourced by serve.sh and test.sh: create .venv and install llmpulse (with extras in $1) once,
# again whenever pyproject.toml, setup.py or a source the install compiles (collector/*.c and the
# modules pyproject.toml lists for mypyc) changes: a stale compiled module would shadow its source.
# pip's output goes to $VENV/install.log, shown only when the install fails; a run with nothing to
# install prints nothing.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${LLMPULSE_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"
extras="${1:-}"
stamp="$VENV/.llmpulse-installed-${extras:-base}"
mapfile -t compiled < <("$PYTHON" -c 'import sys, tomllib
for path in tomllib.load(open(sys.argv[1] + "/pyproject.toml", "rb"))["tool"]["llmpulse"]["compiled"]:
    print(sys.argv[1] + "/" + path)' "$ROOT")
# A stamp is fresh when no source is newer. The base install is also satisfied by a fresh stamp of
# any extras set (an extras install holds the base), so serve.sh after test.sh installs nothing.
fresh() {
  [ -f "$1" ] || return 1
  for source in "$ROOT/pyproject.toml" "$ROOT/setup.py" "$ROOT"/collector/*.c "${compiled[@]}"; do
    [ "$source" -nt "$1" ] && return 1
  done
  return 0
}
stale=1
fresh "$stamp" && stale=""
if [ -n "$stale" ] && [ -z "$extras" ]; then
  for other in "$VENV"/.llmpulse-installed-*; do fresh "$other" && stale=""; done
fi
if [ -n "$stale" ]; then
  with=""
  [ -n "$extras" ] && with=" (with the $extras extras)"
  if [ ! -x "$VENV/bin/python" ]; then
    echo "Setting up llmpulse for the first run: creating ${VENV#"$ROOT"/} and installing packages$with," \
         "then compiling the ingest hot path (about 3 minutes on 2 cores)…" >&2
  elif [ -n "$extras" ] && [ ! -f "$stamp" ]; then
    echo "Adding the $extras extras to ${VENV#"$ROOT"/} (about 2 minutes on 2 cores)…" >&2
  else
    echo "Updating llmpulse in ${VENV#"$ROOT"/}: installing$with again, as a compiled source or the" \
         "package list changed (about 2 minutes on 2 cores)…" >&2
  fi
  started=$SECONDS
  upgrade=""
  if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
    upgrade=1
  fi
  log="$VENV/install.log"
  spec="$ROOT"
  [ -n "$extras" ] && spec="$ROOT[$extras]"
  if ! { { [ -z "$upgrade" ] || "$VENV/bin/pip" install --upgrade pip; } && "$VENV/bin/pip" install -e "$spec"; } \
      >"$log" 2>&1; then
    echo "llmpulse: the install failed; pip's output is in $log. Its last lines:" >&2
    tail -n 15 "$log" >&2
    exit 1
  fi
  touch "$stamp"
  echo "done in $((SECONDS - started))s" >&2
fi
