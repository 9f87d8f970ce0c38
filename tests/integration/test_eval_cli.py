"""`llmpulse eval gate` and `eval show` against a running llmpulse (real HTTP, real worker process):
the exit code is the verdict (0 passes, 1 fails) or 2 when there is none, in every format."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from click.testing import CliRunner, Result

from llmpulse.cli import main
from schemas.dataset_items import DatasetItem
from schemas.metadata.datasets import DatasetStore
from tests.conftest import Running, api, make_settings, start_service
from tests.experiment_data import MAIN, PR, golden_set, record_experiment
from tests.fake_openai import FakeOpenAI, answer


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, chdb_dsn: str) -> Iterator[Running]:
    """main-latest and pr-7 on golden v1 (pr-7: 8 regressions, 1 improvement, 20% dearer),
    v2-run on version 2, and still-running."""
    running = start_service(make_settings(tmp_path_factory.mktemp("eval-cli"), chdb_dsn))
    metadata = running.service.metadata
    items = golden_set(metadata)
    record_experiment(metadata, "main-latest", items, MAIN)
    record_experiment(metadata, "pr-7", items, PR, cost=0.012)
    record_experiment(metadata, "still-running", items, PR, status="running")
    DatasetStore(metadata).add_items("default", "golden", [DatasetItem("one more")])
    record_experiment(metadata, "v2-run", [*items, items[-1] + 1], [*PR, True], version=2)
    yield running
    running.service.stop()


def llmpulse(server: Running, *args: str) -> Result:
    return CliRunner().invoke(main, ["eval", *args, "--url", server.ui_url])


def gate(server: Running, *args: str) -> Result:
    return llmpulse(server, "gate", *args)


@pytest.mark.parametrize("output_format", ["text", "markdown", "json"])
def test_a_regressing_candidate_exits_1_in_every_format(server: Running, output_format: str) -> None:
    done = gate(server, "--baseline", "main-latest", "--candidate", "pr-7", "--format", output_format)
    assert done.exit_code == 1, done.output
    if output_format == "json":
        body = json.loads(done.output)
        assert body["passed"] is False and len(body["regressed"]) == 8
    elif output_format == "markdown":
        assert done.output.startswith("## ❌ llmpulse eval gate: failed")
        assert "| pass rate | 65.0% | 30.0% | -35.0 pts (McNemar p = 0.0391) |" in done.output
        assert "<summary>Regressions (8)</summary>" in done.output
        # answers are escaped: a | or <b> in model output cannot break the table or inject HTML
        assert "| question 0 | main-latest says right \\| &lt;b&gt;0&lt;/b&gt; | pr-7 says wrong" in done.output
        assert done.output.rstrip().endswith("**Verdict: failed: 1 of 1 check(s) failed**")
    else:
        assert done.output.startswith("gate FAILED: pr-7 against main-latest on dataset golden version 1")
        assert "8 regressed, 1 improved, 11 unchanged" in done.output
        assert "  FAIL the pass rate is significantly worse" in done.output
        assert "verdict: failed: 1 of 1 check(s) failed" in done.output


@pytest.mark.parametrize("output_format", ["text", "markdown", "json"])
def test_a_better_candidate_exits_0_in_every_format(server: Running, output_format: str) -> None:
    done = gate(server, "--baseline", "pr-7", "--candidate", "main-latest", "--min-pass-rate", "0.6",
                "--max-regressions", "1", "--max-cost-increase", "0", "--max-p95-increase", "0",
                "--format", output_format)
    assert done.exit_code == 0, done.output
    if output_format == "json":
        assert json.loads(done.output)["thresholds"]["max_regressions"] == 1
    else:
        assert "passed: all 5 check(s) passed" in done.output
        assert ("cost changed -16.7%" in done.output) and ("$0.2400" in done.output)


def test_thresholds_fail_a_candidate_the_default_rule_lets_through(server: Running) -> None:
    done = gate(server, "--baseline", "pr-7", "--candidate", "main-latest", "--max-cost-increase", "-20")
    assert done.exit_code == 1 and "FAIL cost changed -16.7% ($0.2400 -> $0.2000)" in done.output


@pytest.mark.parametrize("output_format", ["text", "markdown"])
def test_the_candidate_alone_is_gated_on_its_pass_rate(server: Running, output_format: str) -> None:
    passing = gate(server, "--candidate", "main-latest", "--min-pass-rate", "0.65", "--format", output_format)
    assert passing.exit_code == 0, passing.output
    failing = gate(server, "--candidate", "pr-7", "--min-pass-rate", "0.65", "--format", output_format)
    assert failing.exit_code == 1 and "pass rate 30.0% is below the minimum 65.0%" in failing.output
    assert "Failures (14)" in failing.output or "failures (14):" in failing.output


@pytest.mark.parametrize(("args", "message"), [
    (("--baseline", "main-latest", "--candidate", "nope"), "llmpulse refused (404): experiment 'nope' not found"),
    (("--baseline", "main-latest", "--candidate", "v2-run"), "on dataset 'golden' version 2"),
    (("--baseline", "main-latest", "--candidate", "still-running"), "(409): experiment 'still-running' is running"),
    (("--candidate", "pr-7"), "without a baseline there is nothing to gate on"),
    (("--candidate", "pr-7", "--min-pass-rate", "80"), "80.0 is not in the range 0<=x<=1"),
    (("--candidate", "pr-7", "--max-regressions", "-1"), "-1 is not in the range x>=0"),
    (("--baseline", "main-latest"), "Missing option '--candidate'"),
    (("--candidate", "pr-7", "--format", "html"), "'html' is not one of"),
])
def test_no_verdict_exits_2(server: Running, args: tuple[str, ...], message: str) -> None:
    done = gate(server, *args)
    assert done.exit_code == 2 and message in done.output, done.output


def test_an_unreachable_server_exits_2() -> None:
    done = CliRunner().invoke(main, ["eval", "gate", "--candidate", "pr-7", "--min-pass-rate", "0.5"],
                              env={"LLMPULSE_URL": "http://127.0.0.1:9"})
    assert done.exit_code == 2 and "cannot reach llmpulse at http://127.0.0.1:9" in done.output


# --- eval run and show, end to end: the in-service runner against a local fake OpenAI endpoint ----

QUESTIONS = {"Capital of France?": "Paris", "Capital of Peru?": "Lima", "Capital of Chad?": "N'Djamena"}


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as handle:
        yield handle


def run_eval(running: Running, *args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, ["eval", "run", "--dataset", "capitals", "--model", "gpt-4o-mini",
                                     *args, "--url", running.ui_url], env=env)


def test_eval_run_waits_shows_and_gates_end_to_end(running: Running, fake: FakeOpenAI) -> None:
    items = [{"input": question, "expected": expected} for question, expected in QUESTIONS.items()]
    assert api(running, "POST", "/datasets", {"name": "capitals"}).status_code == 201
    assert api(running, "POST", "/datasets/capitals/items", items).status_code == 201
    for question, expected in QUESTIONS.items():
        fake.set(question, answer(f"It is {expected}."))
    base = run_eval(running, "--endpoint", fake.url, "--name", "base", "--api-key-env", "CAPITALS_KEY",
                    "--temperature", "0", "--max-tokens", "32", "--concurrency", "2", "--wait",
                    env={"CAPITALS_KEY": "sk-from-ci"})
    assert base.exit_code == 0, base.output
    assert base.output.splitlines()[0] == "started experiment base (running)"
    assert "experiment base on dataset capitals version 1: done" in base.output
    assert "items: 3 of 3 done, 3 passed, 0 errors" in base.output and "pass rate: 100.0%" in base.output
    sent = fake.received("Capital of France?")[0]
    assert (sent.authorization, sent.temperature, sent.max_tokens) == ("Bearer sk-from-ci", 0, 32)

    fake.set("Capital of Peru?", answer("It is Quito."))
    candidate = run_eval(running, "--endpoint", fake.url, "--name", "cand", "--wait")
    assert candidate.exit_code == 0 and "2 passed" in candidate.output, candidate.output
    gated = CliRunner().invoke(main, ["eval", "gate", "--baseline", "base", "--candidate", "cand",
                                      "--max-regressions", "0", "--url", running.ui_url])
    assert gated.exit_code == 1 and "FAIL 1 regression(s), above the maximum 0" in gated.output, gated.output
    assert "candidate: It is Quito." in gated.output

    shown = CliRunner().invoke(main, ["eval", "show", "cand", "--url", running.ui_url])
    assert shown.exit_code == 0 and "pass rate: 66.7% (95% CI" in shown.output, shown.output
    as_json = CliRunner().invoke(main, ["eval", "show", "cand", "--format", "json", "--url", running.ui_url])
    assert json.loads(as_json.output)["passed"] == 2


def test_eval_run_exits_1_when_the_experiment_fails(running: Running) -> None:
    assert api(running, "POST", "/datasets", {"name": "capitals"}).status_code == 201
    assert api(running, "POST", "/datasets/capitals/items", [{"input": "Capital of Peru?"}]).status_code == 201
    down = run_eval(running, "--endpoint", "http://127.0.0.1:9/v1", "--name", "down", "--wait")
    assert down.exit_code == 1, down.output
    assert "experiment down on dataset capitals version 1: failed (every item failed" in down.output


@pytest.mark.parametrize(("args", "env", "message"), [
    (("--name", "x", "--endpoint", "http://127.0.0.1:9/v1"), None, "(404): dataset 'capitals' not found"),
    (("--name", "x", "--api-key-env", "NO_SUCH_VARIABLE"), {}, "NO_SUCH_VARIABLE: that environment variable"),
    (("--name", "x", "--concurrency", "0"), None, "0 is not in the range x>=1"),
])
def test_eval_run_usage_errors_exit_2(running: Running, args: tuple[str, ...], env: dict | None,
                                      message: str) -> None:
    done = run_eval(running, *args, env=env)
    assert done.exit_code == 2 and message in done.output, done.output


def test_eval_show_of_an_unknown_experiment_exits_2(running: Running) -> None:
    done = CliRunner().invoke(main, ["eval", "show", "nope", "--url", running.ui_url])
    assert done.exit_code == 2 and "experiment 'nope' not found" in done.output
