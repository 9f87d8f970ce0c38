"""scripts/_venv.sh (sourced by serve.sh and test.sh) as a newcomer meets it: the first run says what it
does and how long it takes, pip's output goes to a log named only when the install fails, and a run with
nothing to install prints nothing. pip is a stub here (the real install takes minutes)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# A python3 whose `-m venv DIR` makes a venv of this interpreter with the stub pip below.
FAKE_PYTHON = f"""#!/bin/sh
if [ "$1" = "-m" ] && [ "$2" = "venv" ]; then
  mkdir -p "$3/bin" && ln -s {sys.executable} "$3/bin/python" && cp "$(dirname "$0")/pip" "$3/bin/pip"; exit 0
fi
exec {sys.executable} "$@"
"""
FAKE_PIP = """#!/bin/sh
echo "Collecting noise"; echo "Building wheel"
[ -z "$PIP_FAILS" ] || { echo "error: no C compiler"; exit 1; }
"""


def source_venv(tmp_path: Path, extras: str = "test", fails: bool = False) -> subprocess.CompletedProcess[str]:
    python = tmp_path / "python3"
    for path, text in ((python, FAKE_PYTHON), (tmp_path / "pip", FAKE_PIP)):
        path.write_text(text)
        path.chmod(0o755)
    env = {**os.environ, "PYTHON": str(python), "LLMPULSE_VENV": str(tmp_path / "venv"),
           "PIP_FAILS": "1" if fails else ""}
    return subprocess.run(["bash", "-c", f'source "{ROOT}/scripts/_venv.sh" {extras} && echo sourced'],
                          capture_output=True, text=True, env=env, timeout=60)


def test_the_first_run_says_what_it_does_and_a_second_run_is_quiet(tmp_path: Path) -> None:
    first = source_venv(tmp_path)
    assert first.returncode == 0 and first.stdout == "sourced\n", first.stderr
    lines = first.stderr.splitlines()
    assert lines[0].startswith("Setting up llmpulse for the first run: creating ") and "about 3 minutes" in lines[0]
    assert lines[-1].startswith("done in ") and lines[-1].endswith("s")
    assert "Collecting noise" not in first.stderr  # pip's output went to the log
    assert "Building wheel" in (tmp_path / "venv" / "install.log").read_text()
    again = source_venv(tmp_path)
    assert (again.returncode, again.stdout, again.stderr) == (0, "sourced\n", "")
    base = source_venv(tmp_path, extras="")  # serve.sh after test.sh: the test install holds the base
    assert (base.returncode, base.stdout, base.stderr) == (0, "sourced\n", "")


def test_extras_added_to_a_base_install_say_so(tmp_path: Path) -> None:
    assert source_venv(tmp_path, extras="").returncode == 0  # serve.sh first, then test.sh
    more = source_venv(tmp_path, extras="test")
    assert more.stderr.startswith("Adding the test extras to ") and "done in" in more.stderr, more.stderr
    for stamp in (tmp_path / "venv").glob(".llmpulse-installed-*"):
        os.utime(stamp, (0, 0))  # older than every source: as after a pull that changed one
    (tmp_path / "venv" / ".llmpulse-installed-base").unlink()  # only the (stale) test install's stamp is left
    again = source_venv(tmp_path, extras="")
    assert again.stderr.startswith("Updating llmpulse in ") and "compiled source or the package list" in again.stderr


def test_a_failed_install_names_its_log_and_stops(tmp_path: Path) -> None:
    failed = source_venv(tmp_path, fails=True)
    log = tmp_path / "venv" / "install.log"
    assert failed.returncode == 1 and "sourced" not in failed.stdout
    assert f"pip's output is in {log}" in failed.stderr and "error: no C compiler" in failed.stderr
    assert not (tmp_path / "venv" / ".llmpulse-installed-test").exists()  # the next run tries again
