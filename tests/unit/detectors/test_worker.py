"""The worker process: the same answers as in-process, one failed call does not cost the batch,
and a crashed, hung or misnamed worker is a clear error rather than a silent empty result."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from detectors.scoring.groundedness import score_groundedness
from detectors.scoring.verdict import GROUNDED, HALLUCINATED
from detectors.worker import Failed, Worker, WorkerError, run_batch
from llmpulse.demo.content import KNOWLEDGE_BASE


def test_groundedness_in_the_worker_equals_in_process() -> None:
    article = KNOWLEDGE_BASE[0]
    calls = [((article.answer, [article.content], article.questions[0]), {}),
             ((article.hallucination, [article.content], article.questions[0]), {})]
    results = run_batch("detectors.scoring.groundedness:score_groundedness", calls)
    assert results == [score_groundedness(*args) for args, _ in calls]
    assert [r.label for r in results] == [GROUNDED, HALLUCINATED]


def test_the_worker_cannot_import_pandas() -> None:
    [imported] = run_batch("importlib:import_module", [(("pandas",), {})])
    assert isinstance(imported, Failed) and imported.error.startswith("ModuleNotFoundError")


def test_scikit_learn_and_scipy_stats_import_without_pandas() -> None:
    """What the worker's targets import works with pandas blocked, and does not bring it back."""
    code = ("import sys; from detectors.worker import block_unused_imports; block_unused_imports(); "
            "import detectors.scoring.groundedness, detectors.shift.compare; "
            "print('pandas' in sys.modules, 'sklearn' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "True"]


def test_a_call_that_raises_is_failed_and_the_others_still_answer() -> None:
    results = run_batch("statistics:mean", [(([1, 2, 3],), {}), (([],), {}), (([4],), {})])
    assert results[0] == 2 and results[2] == 4
    assert isinstance(results[1], Failed) and results[1].error.startswith("StatisticsError: mean requires")


def test_library_output_on_stdout_does_not_corrupt_the_answer() -> None:
    assert run_batch("builtins:print", [(("noise on stdout",), {})]) == [None]


def test_a_worker_that_dies_is_an_error_with_its_exit_status() -> None:
    with pytest.raises(WorkerError, match="os:_exit: the worker exited with status 3"):
        run_batch("os:_exit", [((3,), {})])


def test_a_hung_worker_is_stopped_at_the_timeout() -> None:
    with pytest.raises(WorkerError, match=r"time:sleep: no answer within 1 s"):
        run_batch("time:sleep", [((30,), {})], timeout=1)


def test_a_misnamed_target_is_an_error_naming_the_expected_form() -> None:
    with pytest.raises(WorkerError, match="a worker target is 'module:function'"):
        run_batch("statistics.mean", [(([1],), {})])


def test_no_calls_start_no_worker() -> None:
    assert run_batch("os:_exit", []) == []


def test_a_worker_imports_its_target_before_it_is_given_the_calls(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    mark = tmp_path / "imported"
    monkeypatch.setenv("LLMPULSE_TEST_IMPORT_MARK", str(mark))
    with Worker("tests.unit.detectors.worker_target:echo") as worker:
        deadline = time.monotonic() + 30
        while not mark.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert mark.exists(), "the child had not imported its target 30 s after it started"
        assert worker.run([(("x",), {})]) == ["x"]


def test_a_worker_never_given_calls_is_stopped_and_reaped() -> None:
    worker = Worker("time:sleep")
    worker.close()
    assert worker._child.returncode is not None
