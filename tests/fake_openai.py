"""A local fake of an OpenAI-compatible chat completions API, for tests, the bench and the demo.

Answers are deterministic per (model, question): a test says what a model answers to a question
(the last user message, as the endpoint receives it after templating) and how: a right or wrong
answer, an answer that is not valid JSON, some 429s or 500s before success, a reply slower than
the caller's timeout, a 200 whose body is not JSON. Every request is recorded (path, headers,
model, messages, temperature, max tokens) so a test checks what a real provider would have
received, and the most requests ever in flight at once is kept, so a test can see that a runner's
concurrency really is bounded.
"""

from __future__ import annotations

import itertools
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

ANY_MODEL = "*"
CHAT_PATH = "/v1/chat/completions"


@dataclass(frozen=True)
class Behaviour:
    """How the fake answers one (model, question)."""

    text: str = "ok"  # the assistant message's content
    delay: float = 0.0  # seconds before answering, on top of the server's fixed latency
    fail_first: int = 0  # answer `fail_status` this many times before succeeding
    fail_status: int = 429
    retry_after: str | None = "0"  # Retry-After on those failures
    status: int = 200  # a non-2xx status here fails every time
    raw_body: str | None = None  # sent as is instead of a chat completion (garbage)
    usage: bool = True  # include token usage
    finish_reason: str = "stop"
    served_model: str | None = None  # the response's model; the requested one when None


def answer(text: str, **options: Any) -> Behaviour:
    return Behaviour(text=text, **options)


def invalid_json(text: str = '{"answer": "Paris"') -> Behaviour:
    """A well-formed chat completion whose content is broken JSON (a structured-output failure)."""
    return Behaviour(text=text)


def throttled(times: int, text: str, retry_after: str | None = "0") -> Behaviour:
    return Behaviour(text=text, fail_first=times, fail_status=429, retry_after=retry_after)


def failing(status: int = 500) -> Behaviour:
    return Behaviour(status=status, raw_body=json.dumps({"error": {"message": "internal error"}}))


def slow(seconds: float, text: str = "late") -> Behaviour:
    return Behaviour(text=text, delay=seconds)


def not_json(body: str = "<html><body>502 Bad Gateway</body></html>") -> Behaviour:
    return Behaviour(raw_body=body)


@dataclass(frozen=True)
class Received:
    """One request as the fake got it."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None  # None when the body was not a JSON object
    client_port: int = 0  # the client's end of the connection: the same port means a reused connection

    @property
    def model(self) -> str | None:
        return (self.body or {}).get("model")

    @property
    def messages(self) -> list[dict[str, Any]]:
        return (self.body or {}).get("messages") or []

    @property
    def temperature(self) -> float | None:
        return (self.body or {}).get("temperature")

    @property
    def max_tokens(self) -> int | None:
        return (self.body or {}).get("max_tokens")

    @property
    def authorization(self) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == "authorization"), None)

    @property
    def question(self) -> str:
        return question_of(self.messages)


def question_of(messages: list[dict[str, Any]]) -> str:
    """The last user message's text: what an answer is looked up by."""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            return content if isinstance(content, str) else json.dumps(content)
    return ""


@dataclass
class _Counters:
    in_flight: int = 0
    max_in_flight: int = 0
    failures: dict[tuple[str, str], int] = field(default_factory=dict)


class FakeOpenAI:
    """`url` is the API base (…/v1); `set`/`answer` configure replies; `requests` what arrived."""

    def __init__(self, latency: float = 0.0, default: Behaviour | None = None) -> None:
        self.latency = latency  # seconds every reply takes
        self.default = default or Behaviour(text="I don't know.")
        self.behaviours: dict[tuple[str, str], Behaviour] = {}
        self.requests: list[Received] = []
        self._counters = _Counters()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler(), bind_and_activate=False)
        self._server.request_queue_size = 256  # socketserver's default of 5 drops bursts of connections
        self._server.daemon_threads = True
        self._server.server_bind()
        self._server.server_activate()
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    @property
    def max_in_flight(self) -> int:
        return self._counters.max_in_flight

    def reset_in_flight(self) -> None:
        """Start counting the most requests in flight afresh (between runs of a bench)."""
        with self._lock:
            self._counters.max_in_flight = self._counters.in_flight

    def set(self, question: str, behaviour: Behaviour, model: str = ANY_MODEL) -> None:
        self.behaviours[(model, question)] = behaviour

    def answer(self, question: str, text: str, model: str = ANY_MODEL) -> None:
        self.set(question, Behaviour(text=text), model)

    def received(self, question: str | None = None) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if question is None or r.question == question]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.requests) >= count:
                return self.received()
            time.sleep(0.01)
        raise AssertionError(f"the fake endpoint got {len(self.requests)} requests, expected {count}")

    def close(self) -> None:
        self._closing.set()  # wakes slow replies so no handler thread outlives the test for long
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeOpenAI:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _behaviour(self, model: str, question: str) -> Behaviour:
        return (self.behaviours.get((model, question)) or self.behaviours.get((ANY_MODEL, question))
                or self.default)

    def _reply(self, received: Received) -> tuple[int, dict[str, str], bytes, float]:
        """Status, headers, body and delay for one request; counts failures per (model, question)."""
        if received.path.split("?")[0] != CHAT_PATH:
            return 404, {}, b'{"error": {"message": "not found"}}', 0.0
        if received.body is None:
            return 400, {}, b'{"error": {"message": "the body is not a JSON object"}}', 0.0
        model, question = str(received.model), received.question
        behaviour = self._behaviour(model, question)
        with self._lock:
            failed = self._counters.failures.get((model, question), 0)
            if failed < behaviour.fail_first:
                self._counters.failures[(model, question)] = failed + 1
                headers = {"Retry-After": behaviour.retry_after} if behaviour.retry_after is not None else {}
                return behaviour.fail_status, headers, b'{"error": {"message": "slow down"}}', 0.0
        if behaviour.raw_body is not None:
            return behaviour.status, {}, behaviour.raw_body.encode(), behaviour.delay
        body = self._completion(received, behaviour)
        return behaviour.status, {"Content-Type": "application/json"}, json.dumps(body).encode(), behaviour.delay

    def _completion(self, received: Received, behaviour: Behaviour) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": f"chatcmpl-fake-{next(self._ids)}", "object": "chat.completion", "created": 1_700_000_000,
            "model": behaviour.served_model or received.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": behaviour.text},
                         "finish_reason": behaviour.finish_reason}],
        }
        if behaviour.usage:
            prompt = sum(len(str(m.get("content", "")).split()) for m in received.messages if isinstance(m, dict))
            completion = len(behaviour.text.split())
            body["usage"] = {"prompt_tokens": prompt, "completion_tokens": completion,
                             "total_tokens": prompt + completion}
        return body

    def _enter(self, received: Received) -> None:
        with self._lock:
            self.requests.append(received)
            self._counters.in_flight += 1
            self._counters.max_in_flight = max(self._counters.max_in_flight, self._counters.in_flight)

    def _leave(self) -> None:
        with self._lock:
            self._counters.in_flight -= 1

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a provider's API: a client may reuse its connection

            def setup(self) -> None:
                super().setup()
                # Headers and body go out in two writes; with Nagle's algorithm the second waits for
                # the client's delayed ACK (40 ms) on a kept-alive connection.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                received = Received(self.path, dict(self.headers.items()), _json_object(self.rfile.read(length)),
                                    self.client_address[1])
                fake._enter(received)
                try:
                    status, headers, body, delay = fake._reply(received)
                    if fake.latency + delay > 0:
                        fake._closing.wait(fake.latency + delay)
                finally:
                    # Left before the answer is written: once the client has it, it may send its next
                    # request, which must not find this one still counted.
                    fake._leave()
                self._send(status, headers, body)

            def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout tests)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


def _json_object(raw: bytes) -> dict[str, Any] | None:
    try:
        body = json.loads(raw)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake
