"""Start `llmpulse serve` as a real subprocess on free ports, as a user would."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import wait_ready


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class ServerProcess:
    process: subprocess.Popen
    otlp_url: str
    ui_url: str
    log_path: Path

    def kill9(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def terminate(self) -> int:
        self.process.terminate()
        return self.process.wait(60)


def start_server(data_dir: Path, extra_env: dict[str, str] | None = None, otlp_port: int | None = None,
                 ui_port: int | None = None, llmpulse: Sequence[str] = (sys.executable, "-m", "llmpulse.cli"),
                 cwd: Path | None = None, preexec: Callable[[], None] | None = None) -> ServerProcess:
    """`llmpulse` is how the command is invoked: the suite's source tree by default, or an
    installed console script. `preexec` runs in the child before it starts (resource limits)."""
    otlp_port, ui_port = otlp_port or free_port(), ui_port or free_port()
    env = {**os.environ, **(extra_env or {})}
    log_path = data_dir.parent / f"{data_dir.name}-server.log"
    command = [*llmpulse, "serve", "--data-dir", str(data_dir),
               "--otlp-port", str(otlp_port), "--ui-port", str(ui_port)]
    with log_path.open("ab") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=cwd,
                                   preexec_fn=preexec)
    server = ServerProcess(process, f"http://127.0.0.1:{otlp_port}", f"http://127.0.0.1:{ui_port}", log_path)
    try:
        wait_ready(server.ui_url + "/readyz", timeout=60)
        wait_ready(server.otlp_url + "/readyz", timeout=10)
    except AssertionError:
        process.kill()
        raise AssertionError(f"server did not start:\n{log_path.read_text()[-3000:]}") from None
    return server
