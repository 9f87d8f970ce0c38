"""`llmpulse demo`'s Evaluations part: a golden set, two experiments on it of which one regresses,
and the comparison a CI gate would judge, so a newcomer finds every Evaluations page with data.

The demo acts as the app: it runs support-bot's pipeline (`llmpulse.demo.pipeline`, deterministic)
over the dataset twice through `llmpulse.evals.ExperimentRun`, once per model, exporting each
item's spans (embedding, vector search, chat call with its model and tokens) over OTLP like any
app-run experiment, so llmpulse prices them with the list prices production uses. It talks to
the UI/API port as well as the OTLP one; when that API cannot be reached (the demo pointed at a
bare OTLP endpoint) the traffic is still sent and this part says why it was skipped.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

import requests
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind

from llmpulse.demo.golden import DATASET, DESCRIPTION, article_for, golden_items
from llmpulse.demo.labels import plan_labels
from llmpulse.demo.pipeline import BASELINE, CANDIDATE, Answer, answer_item
from llmpulse.demo.send import RecordedAnswer, make_otlp_exporter
from llmpulse.evals import ExperimentError, ExperimentRun

APP_VERSIONS = {BASELINE: "2.14.0", CANDIDATE: "2.15.0-rc.1"}  # support-bot's release under test, per model
GATE = {"min_pass_rate": 0.8, "max_regressions": 0}
FROM_SPANS = 2  # golden items taken from recorded production answers
SPAN_WAIT_S = 20.0  # how long a recorded span may take to become readable (the collector batches writes)
PIPELINE_SCOPE = "llmpulse.demo.pipeline"


class DemoApiError(RuntimeError):
    """llmpulse's API refused a request of the demo; the message has its answer."""


@dataclass(frozen=True)
class EvaluationsReport:
    ui_url: str
    dataset: str = ""
    version: int = 0
    items: int = 0
    experiments: tuple[dict[str, Any], ...] = ()  # the baseline's and the candidate's summaries
    comparison: dict[str, Any] | None = None
    skipped: str = ""  # why the evaluations were not (all) filled
    labels: dict[str, int] = field(default_factory=dict)  # labels given by hand, per label
    notes: tuple[str, ...] = field(default=())

    def describe(self) -> str:
        """What was made and where to look, for a terminal."""
        if not self.experiments:
            return f"evaluations skipped: {self.skipped}"
        baseline, candidate = (e["name"] for e in self.experiments)
        lines = [f"evaluations: dataset {self.dataset} v{self.version} ({self.items} items), two experiments on it",
                 *(f"  {_summary_line(e)}" for e in self.experiments)]
        if self.comparison is not None:
            lines.append(f"  {_verdict_line(self.comparison)}")
        if self.labels:
            given = ", ".join(f"{count} {label}" for label, count in self.labels.items())
            lines.append(f"  labelled {sum(self.labels.values())} of the demo's RAG answers by hand ({given})")
        lines += [f"  look at {self.ui_url}{path}" for path in self.pages()]
        gate = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in GATE.items())
        lines.append(f"  a CI job gates with: llmpulse eval gate --baseline {baseline} --candidate {candidate} {gate}")
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)

    def pages(self) -> list[str]:
        baseline, candidate = (e["name"] for e in self.experiments)
        return [f"/evaluations/compare?{urlencode({'baseline': baseline, 'candidate': candidate})}",
                f"/evaluations/experiments/{quote(candidate, safe='')}",
                f"/evaluations/datasets/{quote(self.dataset, safe='')}", "/annotate"]


class DemoApi:
    """The few calls the demo makes to llmpulse's JSON API, with the token when one is given."""

    def __init__(self, url: str, project: str = "default", token: str | None = None) -> None:
        self.url, self.project = url.rstrip("/"), project
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, body: Any = None, scoped: bool = True, **params: Any) -> requests.Response:
        """`scoped`: the route takes `project=` (every one but the service-wide detector runs)."""
        return self.session.request(method, f"{self.url}/api/v1{path}", json=body, timeout=60,
                                    params={"project": self.project, **params} if scoped else params)

    def expect(self, answer: requests.Response, *wanted: int) -> dict[str, Any]:
        if answer.status_code not in wanted:
            raise DemoApiError(f"{answer.request.method} {answer.url.split('?')[0]}: HTTP {answer.status_code} "
                               f"{answer.text[:300]}")
        return answer.json()

    def unreachable(self) -> str:
        """Why the API cannot be used, or "" when it answers."""
        try:
            answer = self.call("GET", "/datasets")
        except requests.RequestException as exc:
            return f"llmpulse's API does not answer at {self.url} ({type(exc).__name__}); give it with --url"
        if answer.status_code in (401, 403):
            return f"llmpulse's API at {self.url} refused the demo (HTTP {answer.status_code}); give --token"
        return "" if answer.ok else f"llmpulse's API at {self.url} answered HTTP {answer.status_code}"


def run_evaluations(api: DemoApi, otlp_endpoint: str, *, ingest_key: str | None = None,
                    answers: Sequence[RecordedAnswer] = (), now: datetime | None = None,
                    timeout: float = 120.0) -> EvaluationsReport:
    """Fill the Evaluations pages; never raises for the API's sake (the report says what went wrong)."""
    reason = api.unreachable()
    if reason:
        return EvaluationsReport(api.url, skipped=reason)
    notes: list[str] = []
    try:
        version, items, made = golden_dataset(api, answers, notes)
        labels, added = label_answers(api, plan_labels(answers, DATASET if made else None, pick_answers(answers)),
                                      notes)
        version, items = (added["version"], items + 1) if added else (version, items)
        stamp = f"{now or datetime.now(UTC):%Y%m%d-%H%M%S}"  # a later demo adds runs, never clashes
        names = {model: f"support-{model}-{stamp}" for model in (BASELINE, CANDIDATE)}
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="demo-detector") as pool:
            scoring = pool.submit(score_answers, api)  # while the experiments run
            summaries = run_experiments(api, otlp_endpoint, ingest_key, version, names, timeout)
            notes += scoring.result()
        comparison = compare(api, names[BASELINE], names[CANDIDATE], notes)
    except (DemoApiError, ExperimentError, requests.RequestException) as exc:
        return EvaluationsReport(api.url, skipped=f"the evaluations stopped half-way: {exc}")
    return EvaluationsReport(api.url, DATASET, version, items, tuple(summaries), comparison, labels=labels,
                             notes=tuple(notes))


# --- the golden set --------------------------------------------------------------------------------


def golden_dataset(api: DemoApi, answers: Sequence[RecordedAnswer], notes: list[str]) -> tuple[int, int, bool]:
    """(version, items, made now) of the golden set; made on the first demo, reused as it is by later ones."""
    created = api.call("POST", "/datasets", {"name": DATASET, "description": DESCRIPTION})
    if created.status_code == 409:
        existing = api.expect(api.call("GET", f"/datasets/{DATASET}"), 200)
        if existing["items"]:
            notes.append(f"dataset {DATASET} existed already: the experiments ran on its version {existing['version']}")
            return existing["version"], len(existing["items"]), False
    else:
        api.expect(created, 201)
    added = api.expect(api.call("POST", f"/datasets/{DATASET}/items", golden_items()), 201)
    version, count = added["version"], added["added"]
    for answer in pick_answers(answers):
        taken = _item_from_span(api, answer)
        if taken is None:
            notes.append(f"span {answer.span_id} was not readable within {SPAN_WAIT_S:g} s: not added to {DATASET}")
            continue
        version, count = taken["version"], count + 1
    return version, count, True


def pick_answers(answers: Sequence[RecordedAnswer]) -> list[RecordedAnswer]:
    """Grounded answers to distinct knowledge-base questions, the first few."""
    picked: dict[str, RecordedAnswer] = {}
    for answer in answers:
        if answer.grounded and article_for(answer.question) and answer.question not in picked:
            picked[answer.question] = answer
    return list(picked.values())[:FROM_SPANS]


def _item_from_span(api: DemoApi, answer: RecordedAnswer) -> dict[str, Any] | None:
    """The recorded call as an item; its expected answer is the knowledge base's (the recorded one may
    carry the chatty tail of the silently changed model)."""
    article = article_for(answer.question)
    body = {"trace_id": answer.trace_id, "span_id": answer.span_id, "expected": article.answer if article else None}
    return _post_when_stored(api, f"/datasets/{DATASET}/items/from-span", body)


def label_answers(api: DemoApi, bodies: Sequence[dict[str, Any]], notes: list[str]
                  ) -> tuple[dict[str, int], dict[str, Any] | None]:
    """Post the labels; (count per label, the answer of the one that added an item to the dataset)."""
    counts: dict[str, int] = {}
    added = None
    for body in bodies:
        saved = _post_when_stored(api, "/annotations", body)
        if saved is None:
            notes.append(f"span {body['span_id']} was not readable within {SPAN_WAIT_S:g} s: not labelled")
            continue
        counts[body["label"]] = counts.get(body["label"], 0) + 1
        added = saved if "item_id" in saved else added
    return counts, added


def _post_when_stored(api: DemoApi, path: str, body: dict[str, Any]) -> dict[str, Any] | None:
    """POST about a recorded span, waiting (bounded) until the collector has stored it: None if it never was."""
    deadline, pause = time.monotonic() + SPAN_WAIT_S, 0.1
    while True:
        answer = api.call("POST", path, body)
        if answer.status_code != 404:
            return api.expect(answer, 201)
        if time.monotonic() > deadline:
            return None
        time.sleep(pause)
        pause = min(pause * 2, 1.0)


def score_answers(api: DemoApi) -> list[str]:
    """Run the hallucination detector now rather than on its schedule, so the Quality and Annotate
    pages have the demo's answers scored and flagged when the newcomer opens them."""
    try:
        answer = api.call("POST", "/detectors/run", {"detectors": ["hallucination"]}, scoped=False)
    except requests.RequestException as exc:
        answer_text = type(exc).__name__
    else:
        if answer.ok:
            return []
        answer_text = f"HTTP {answer.status_code}"
    return [f"the hallucination detector could not be run now ({answer_text}): it scores the demo's answers "
            "on its schedule"]


# --- the experiments --------------------------------------------------------------------------------


def run_experiments(api: DemoApi, otlp_endpoint: str, ingest_key: str | None, version: int,
                    names: dict[str, str], timeout: float) -> list[dict[str, Any]]:
    """Both runs' items first, then both finished at once: llmpulse reads back and scores them in parallel."""
    runs = [_app_run(api, otlp_endpoint, ingest_key, version, model, name, timeout) for model, name in names.items()]
    with ThreadPoolExecutor(max_workers=len(runs), thread_name_prefix="demo-experiment") as pool:
        return list(pool.map(_finished, runs))


def _finished(run: ExperimentRun) -> dict[str, Any]:
    try:
        return run.finish()
    finally:
        run.provider.shutdown()


def _app_run(api: DemoApi, otlp_endpoint: str, ingest_key: str | None, version: int, model: str, name: str,
             timeout: float) -> ExperimentRun:
    provider = BackdatedProvider(_provider(otlp_endpoint, ingest_key, model))
    run = ExperimentRun(name, DATASET, url=api.url, project=api.project, version=version, model=model,
                        tracer_provider=provider, session=api.session, timeout=timeout)
    planned = {item.id: answer_item(model, item.id, item.input) for item in run.items}
    provider.leads.extend(int(planned[item.id].duration_ms * 1e6) for item in run.items)
    pipeline = provider.provider.get_tracer(PIPELINE_SCOPE)
    for item in run:
        answer = planned[item.id]
        _emit_steps(pipeline, item.span.start_time, answer)
        item.output = answer.output
    return run


def _emit_steps(tracer: Any, start_ns: int, answer: Answer) -> None:
    """The pipeline's spans under the item's span (the current span while the loop body runs)."""
    for step in answer.steps:
        begin = start_ns + int(step.start_ms * 1e6)
        span = tracer.start_span(step.name, kind=SpanKind.CLIENT if step.client else SpanKind.INTERNAL,
                                 attributes=step.attributes, start_time=begin)
        span.end(end_time=begin + max(int(step.duration_ms * 1e6), 1))


def _provider(otlp_endpoint: str, ingest_key: str | None, model: str) -> TracerProvider:
    resource = Resource({"service.name": "support-bot", "service.namespace": "acme",
                         "service.version": APP_VERSIONS[model], "deployment.environment.name": "ci"})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(make_otlp_exporter(otlp_endpoint, ingest_key),
                                                   schedule_delay_millis=200))
    return provider


class BackdatedProvider:
    """A TracerProvider whose tracers start each span as long ago as its item's pipeline would take.

    ExperimentRun opens an item's span when its loop reaches the item, and the demo's pipeline takes
    no real time: starting the span its planned duration ago gives the item the latency the real
    calls would have had (and its calls fit inside it), without the demo sleeping through them.
    """

    def __init__(self, provider: TracerProvider) -> None:
        self.provider = provider
        self.leads: deque[int] = deque()  # ns, one per span started, in order

    def get_tracer(self, *args: Any, **kwargs: Any) -> Any:
        return _BackdatedTracer(self.provider.get_tracer(*args, **kwargs), self.leads)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.provider.force_flush(timeout_millis)

    def shutdown(self) -> None:
        self.provider.shutdown()


class _BackdatedTracer:
    def __init__(self, tracer: Any, leads: deque[int]) -> None:
        self.tracer, self.leads = tracer, leads

    def start_as_current_span(self, name: str, **kwargs: Any) -> Any:
        lead = self.leads.popleft() if self.leads else 0
        return self.tracer.start_as_current_span(name, start_time=time.time_ns() - lead, **kwargs)


# --- the comparison ---------------------------------------------------------------------------------


def compare(api: DemoApi, baseline: str, candidate: str, notes: list[str]) -> dict[str, Any] | None:
    answer = api.call("GET", "/experiments/compare", baseline=baseline, candidate=candidate, **GATE)
    if answer.status_code != 200:
        notes.append(f"the comparison was refused: HTTP {answer.status_code} {answer.text[:200]}")
        return None
    return answer.json()


def _summary_line(experiment: dict[str, Any]) -> str:
    name = experiment["name"]
    if experiment["status"] != "done" or experiment.get("pass_rate") is None:
        return f"{name}: {experiment['status']} {experiment.get('reason') or ''}".rstrip()
    parts = [f"{experiment['passed']}/{experiment['items']} passed ({experiment['pass_rate']:.0%})",
             "cost unknown" if experiment.get("cost_total") is None else f"${float(experiment['cost_total']):.4f}"]
    if experiment.get("latency_p95_ms") is not None:
        parts.append(f"p95 {experiment['latency_p95_ms'] / 1000:.2f} s")
    return f"{name}: " + ", ".join(parts)


def _verdict_line(comparison: dict[str, Any]) -> str:
    rate = comparison.get("pass_rate") or {}
    p_value = rate.get("p_value")
    verdict = "passes" if comparison.get("passed") else "FAILS"
    return (f"the candidate {verdict} the gate: {len(comparison.get('regressed', []))} items regressed, "
            f"{len(comparison.get('improved', []))} improved"
            + (f" (McNemar p = {p_value:.3f})" if p_value is not None else ""))
