"""The empty Overview's demo line names the ports the demo must reach when they are not its defaults."""

from __future__ import annotations

from typing import Any

from flask import Flask

from dashboard.ui.context import UiContext


def _line(host: str, otlp_port: int) -> str:
    context: Any = UiContext(store=None, metadata=None, state=None, otlp_port=otlp_port)  # type: ignore[arg-type]
    with Flask(__name__).test_request_context("/", base_url=f"http://{host}"):
        return context.demo_command()


def test_loopback_on_the_default_ports_needs_no_flags() -> None:
    assert _line("127.0.0.1:8050", 4318) == "llmpulse demo" == _line("localhost:8050", 4318)


def test_other_ports_are_passed_to_the_demo() -> None:
    assert _line("127.0.0.1:8060", 4320) == ("llmpulse demo --endpoint http://127.0.0.1:4320 "
                                              "--url http://127.0.0.1:8060")
    assert _line("10.0.0.5:8050", 4318).endswith("--endpoint http://10.0.0.5:4318 --url http://10.0.0.5:8050")
