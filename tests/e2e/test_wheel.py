"""The artifact the Docker image runs: the built wheel, installed outside the checkout.

The suite's venv runs llmpulse as an editable install of the source tree, which hides any file the
wheel leaves out (the dashboard's stylesheets once were: an unstyled UI in every image). This test
builds the wheel from what the Dockerfile's build stage copies, installs it into a venv of its own
(third-party packages come from the suite's venv, so nothing is downloaded), and uses it as an
image user would: `llmpulse serve` from another directory, `llmpulse demo`, the detectors'
worker child, and the UI's assets.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.conftest import run_detectors
from tests.e2e.server import start_server

REPO = Path(__file__).resolve().parents[2]
BUILD_TIMEOUT = 600  # a clean build compiles the C reader and the mypyc modules


@dataclass(frozen=True)
class Installed:
    venv: Path
    python: Path
    llmpulse: Path
    workdir: Path  # outside the checkout, so nothing resolves to the source tree


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("wheel")
    wheel = build_wheel(copy_build_context(root / "context"), root / "wheels")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
                    str(wheel)], check=True, timeout=300)
    share_dependencies(python)
    workdir = root / "elsewhere"
    workdir.mkdir()
    return Installed(venv, python, venv / "bin" / "llmpulse", workdir)


def copy_build_context(context: Path) -> Path:
    """The tracked files under each path the Dockerfile's build stage COPYs (not `.venv`, `build/`)."""
    for source in dockerfile_build_copies():
        tracked = subprocess.run(["git", "ls-files", "-z", "--", source], cwd=REPO, capture_output=True,
                                 check=True).stdout.decode().split("\0")
        for name in filter(None, tracked):
            (context / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, context / name)
    return context


def dockerfile_build_copies() -> list[str]:
    """Sources of the build stage's `COPY src… dest` lines (the first stage: up to the second FROM)."""
    build_stage = re.split(r"^FROM ", (REPO / "Dockerfile").read_text(), flags=re.MULTILINE)[1]
    sources = [line.split()[1:-1] for line in build_stage.splitlines() if line.startswith("COPY ")]
    return [s for line in sources for s in line if not s.startswith("--")]


def build_wheel(context: Path, out: Path) -> Path:
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(out),
                           str(context)], capture_output=True, text=True, timeout=BUILD_TIMEOUT)
    assert done.returncode == 0, done.stderr[-3000:]
    (wheel,) = out.glob("llmpulse-*.whl")
    return wheel


def share_dependencies(python: Path) -> None:
    """A path entry to the suite's site-packages: the dependencies without their .pth files, so the
    suite's editable llmpulse (a finder that one of them installs) stays out of this venv."""
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    (Path(purelib) / "suite_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")


def run_installed(installed: Installed, *code: str) -> str:
    done = subprocess.run([str(installed.python), "-c", "\n".join(code)], cwd=installed.workdir,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def wait_for_requests(ui_url: str, expected: int, timeout: float = 30.0) -> int:
    """LLM calls the summary counts once `expected` are written (acknowledged is not yet written)."""
    deadline, total = time.monotonic() + timeout, -1
    while total < expected and time.monotonic() < deadline:
        summary = requests.get(ui_url + "/api/v1/metrics/summary", params={"from": "0"}, timeout=30).json()
        total = summary["total"]["requests"]
        time.sleep(0.2)
    return total


@pytest.mark.slow
def test_wheel_holds_every_runtime_file_and_the_compiled_hot_path(installed: Installed) -> None:
    out = run_installed(
        installed,
        "import collector._otlp, collector.normalize, dashboard.ui.app, schemas.clickhouse.migrations, llmpulse",
        "from importlib import resources",
        "from pathlib import Path",
        "print(Path(llmpulse.__file__).parent.parent)",
        "print(collector._otlp.__file__, collector.normalize.__file__)",
        "print(*sorted(p.name for p in resources.files('schemas.clickhouse.migrations').iterdir()"
        " if p.name.endswith('.sql')))",
        "print(*sorted(p.name for p in (Path(dashboard.ui.app.__file__).parent / 'assets').glob('*.css')))",
    )
    site, compiled, migrations, assets = out.splitlines()
    assert site.startswith(str(installed.venv)), "llmpulse was imported from outside the wheel's venv"
    assert all(path.endswith(".so") for path in compiled.split()), compiled
    assert migrations.split() == sorted(p.name for p in (REPO / "schemas" / "clickhouse" / "migrations").glob("*.sql"))
    assert assets.split() == sorted(p.name for p in (REPO / "dashboard" / "ui" / "assets").glob("*.css"))


@pytest.mark.slow
def test_installed_service_ingests_demo_traffic_scores_it_and_serves_a_styled_ui(installed: Installed) -> None:
    server = start_server(installed.workdir / "data", {"LLMPULSE_DETECTORS": "false"},
                          llmpulse=[str(installed.llmpulse)], cwd=installed.workdir)
    try:  # every call sampled for scoring, so the worker has something to score whatever the demo's ids
        assert requests.put(server.ui_url + "/api/v1/projects/default", json={"eval_sample_rate": 1.0},
                            timeout=30).status_code == 200
        # the API parts of the demo (experiments, example rules, a detector pass) are left out: the detectors
        # below must find the calls unscored; nothing listens on port 9, whatever runs on the demo's default
        demo = subprocess.run([str(installed.llmpulse), "demo", "--endpoint", server.otlp_url, "--traces", "20",
                               "--url", "http://127.0.0.1:9"],
                              cwd=installed.workdir, capture_output=True, text=True, timeout=180)
        assert demo.returncode == 0, demo.stderr[-2000:]
        sent = int(demo.stdout.split("llm_calls=")[1].split(",")[0])
        assert wait_for_requests(server.ui_url, sent) == sent
        runs = {r["detector"]: r for r in run_detectors(server, "metrics", "hallucination")}
        assert runs["hallucination"]["rows_read"] > 0  # the worker child ran from the wheel's venv
        page = requests.get(server.ui_url + "/", timeout=30)
        stylesheets = re.findall(r'href="(/assets/[^"?]+\.css)', page.text)
        assert "/assets/style.css" in stylesheets, page.text[:2000]
        for href in stylesheets:
            asset = requests.get(server.ui_url + href, timeout=30)
            assert asset.status_code == 200 and asset.headers["Content-Type"].startswith("text/css"), href
            assert asset.content == (REPO / "dashboard" / "ui" / href.removeprefix("/")).read_bytes()
    finally:
        assert server.terminate() == 0
    assert "Traceback" not in server.log_path.read_text()
