"""Run your own app over a golden dataset as an llmpulse experiment (an "app run").

    from llmpulse.evals import ExperimentRun

    with ExperimentRun("rag-v2", dataset="golden") as run:
        for item in run:
            item.output = my_app(item.input)
    print(run.summary["pass_rate"])

The helper creates the experiment over the API (`runner: app`), reads the dataset version it
runs on, and opens one span per item carrying the experiment's attributes
(`schemas.experiment_fields`); that span is the current span while your code runs, so the spans
your app's instrumentation makes (LLM calls, retrieval, tools) join the item's trace, and their
cost and latency count for the item. Spans go out with the standard OpenTelemetry SDK: through
your TracerProvider when you pass one, else through one of its own exporting over OTLP/HTTP
(`otlp_endpoint`, else the SDK's OTEL_EXPORTER_OTLP_* variables, else http://localhost:4318).
Leaving the `with` block (or calling `finish()`) flushes the spans and asks llmpulse to read the
results back and score them, then waits for the summary.

On loopback llmpulse's API is open; a shared server (off loopback) wants an admin's API token,
given as `token=` or LLMPULSE_TOKEN, as the CLI takes it (llmpulse.api_client). Its OTLP port may
want an ingest key too (`ingest_key=`), as any app's exporter does.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import requests
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Status, StatusCode

from llmpulse.api_client import auth_headers, refusal_hint, warn_cleartext
from llmpulse.config import client_api_token, client_api_url
from schemas.experiment_fields import DATASET_NAME, DATASET_VERSION, EXPERIMENT_NAME, ITEM_ID, ITEM_OUTPUT

SCOPE = "llmpulse.evals"
NO_OUTPUT = "the app gave no output for this item"


class ExperimentError(RuntimeError):
    """llmpulse refused a request of the run, or could not be reached; the message says which."""


@dataclass
class Item:
    """One dataset item; set `output` to your app's answer (a text, or anything JSON can hold)."""

    id: int
    input: str | list[dict[str, str]]
    expected: str | None
    metadata: dict[str, Any]
    output: Any = None
    error: str | None = None  # set it when your app failed on this item; the item then counts as an error
    span: Any = field(default=None, repr=False)


class ExperimentRun:
    def __init__(self, name: str, dataset: str, *, url: str | None = None, project: str = "default",
                 version: int | None = None, model: str | None = None, tracer_provider: Any = None,
                 otlp_endpoint: str | None = None, ingest_key: str | None = None, token: str | None = None,
                 session: requests.Session | None = None, timeout: float = 300.0) -> None:
        self.name, self.dataset, self.project = name, dataset, project
        self.api = client_api_url(url) + "/api/v1"
        self.token = client_api_token(token)
        if self.token:
            warn_cleartext(self.api)
        self.http, self.timeout = session or requests.Session(), timeout
        self.summary: dict[str, Any] | None = None
        created = self._post("/experiments", {"name": name, "dataset": dataset, "runner": "app",
                                              **({"dataset_version": version} if version is not None else {}),
                                              **({"model": model} if model else {})}, 201)
        self.version: int = created["dataset_version"]
        self.items = [_item(raw) for raw in self._get(f"/datasets/{dataset}", version=self.version)["items"]]
        self._ran: list[int] = []
        self._active: Iterator[Item] | None = None
        self._current: Item | None = None
        self._own_provider = tracer_provider is None
        self.provider = tracer_provider or _exporting_provider(otlp_endpoint, ingest_key)
        self.tracer = self.provider.get_tracer(SCOPE)

    def __iter__(self) -> Iterator[Item]:
        self._active = self._each()
        return self._active

    def _each(self) -> Iterator[Item]:
        for item in self.items:
            self._current = item
            yield from self._traced(item)
        self._current = None

    def _traced(self, item: Item) -> Iterator[Item]:
        """The item's span is current while the caller's loop body runs for it."""
        attributes = {EXPERIMENT_NAME: self.name, DATASET_NAME: self.dataset, DATASET_VERSION: self.version,
                      ITEM_ID: item.id}
        with self.tracer.start_as_current_span(f"experiment item {item.id}", attributes=attributes,
                                               end_on_exit=True, record_exception=False,
                                               set_status_on_exception=False) as span:
            item.span = span
            self._ran.append(item.id)
            try:
                yield item
            finally:
                _close_item(span, item)

    def finish(self) -> dict[str, Any]:
        """Flush the spans, have llmpulse read back and score the run, and return the experiment
        (status, pass rate with its interval, per-item results) once it is done or failed."""
        if self.summary is not None:
            return self.summary
        if self._active is not None:
            self._active.close()  # a loop left early (break, an exception) ends its item's span now
        if not self.provider.force_flush():
            raise ExperimentError("the spans could not all be exported to llmpulse's OTLP endpoint")
        if self._own_provider:
            self.provider.shutdown()
        self._post(f"/experiments/{self.name}/finish", {"item_ids": self._ran}, 202)
        self.summary = self._finished()
        return self.summary

    def _finished(self) -> dict[str, Any]:
        deadline, pause = time.monotonic() + self.timeout, 0.05
        while True:
            found = self._get(f"/experiments/{self.name}")
            if found["status"] != "running":
                return found
            if time.monotonic() > deadline:
                raise ExperimentError(f"experiment {self.name!r} did not finish within {self.timeout:g} s")
            time.sleep(pause)
            pause = min(pause * 2, 1.0)

    def __enter__(self) -> ExperimentRun:
        return self

    def __exit__(self, kind: Any, error: Any, tb: Any) -> None:
        """Finish also after an error: the item it hit and the items not run count as errors, and the
        experiment does not stay running."""
        if error is not None and self._current is not None and self._current.error is None:
            self._current.error = f"{type(error).__name__}: {error}"
        self.finish()

    def _post(self, path: str, body: Any, wanted: int) -> dict[str, Any]:
        return self._call("POST", path, wanted, json=body)

    def _get(self, path: str, **params: Any) -> dict[str, Any]:
        return self._call("GET", path, 200, params=params)

    def _call(self, method: str, path: str, wanted: int, params: dict[str, Any] | None = None,
              json: Any = None) -> dict[str, Any]:
        try:
            response = self.http.request(method, self.api + path, params={"project": self.project, **(params or {})},
                                         json=json, headers=auth_headers(self.token), timeout=60)
        except requests.RequestException as exc:
            raise ExperimentError(f"cannot reach llmpulse at {self.api}: {type(exc).__name__}; is it running? "
                                  "(url= or LLMPULSE_URL)") from exc
        if response.status_code != wanted:
            raise ExperimentError(f"{method} {response.url}: HTTP {response.status_code}: {_reason(response)}"
                                  + refusal_hint(response.status_code, self.token))
        return response.json()


def _reason(response: requests.Response) -> str:
    try:
        return response.json().get("error") or response.text
    except (ValueError, AttributeError):
        return response.text[:200]


def _item(raw: dict[str, Any]) -> Item:
    return Item(id=raw["id"], input=raw["input"], expected=raw.get("expected"), metadata=raw.get("metadata") or {})


def _close_item(span: Any, item: Item) -> None:
    """Record the answer on the item's span, or why there is none."""
    if item.output is not None:
        span.set_attribute(ITEM_OUTPUT, item.output if isinstance(item.output, str) else json.dumps(item.output))
    if item.error or item.output is None:
        span.set_status(Status(StatusCode.ERROR, item.error or NO_OUTPUT))


def _exporting_provider(endpoint: str | None, ingest_key: str | None) -> TracerProvider:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    exporter = OTLPSpanExporter(endpoint=endpoint.rstrip("/") + "/v1/traces" if endpoint else None,
                                headers=auth_headers(ingest_key) or None)
    provider = TracerProvider(resource=Resource.create({"service.name": "llmpulse-evals"}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def run_experiment(name: str, dataset: str, app: Any, **options: Any) -> dict[str, Any]:
    """`app(input) -> answer` over every item; the finished experiment (see ExperimentRun)."""
    with ExperimentRun(name, dataset, **options) as run:
        for item in run:
            item.output = app(item.input)
    return run.finish()
