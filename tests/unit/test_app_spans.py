"""Which span is an app-run item's root, and what its recorded output means."""

from __future__ import annotations

from datetime import UTC, datetime

from evals.app_spans import item_roots, recorded_output
from evals.scoring import item_contexts, item_question

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def span(span_id: str, parent: str, item: str, root: str = "", trace: str = "t1", second: int = 0) -> dict:
    return {"trace_id": trace, "span_id": span_id, "parent_span_id": parent, "item_id": item, "root_span_id": root,
            "start_time": T0.replace(second=second), "output": "", "status_code": "", "status_message": "",
            "duration_ms": 1.0}


def test_the_root_is_the_tagged_span_whose_parent_is_not_tagged() -> None:
    roots = item_roots([span("b", "a", "7"), span("a", "outer", "7"), span("c", "a", "7")])
    assert roots[7]["span_id"] == "a"


def test_langfuse_root_observation_wins_and_a_rerun_counts_once() -> None:
    named = item_roots([span("a", "", "7", root="b"), span("b", "a", "7", root="b")])
    assert named[7]["span_id"] == "b"
    rerun = item_roots([span("a", "", "7"), span("z", "", "7", trace="t2", second=5), span("x", "", "uuid-1")])
    assert (rerun[7]["trace_id"], set(rerun)) == ("t2", {7})


def test_recorded_outputs_and_item_texts() -> None:
    assert recorded_output('"Paris"') == "Paris" and recorded_output('{"a": 1}') == '{"a": 1}'
    assert recorded_output('"broken') == '"broken'
    assert item_question({"input": [{"role": "system", "content": "s"}, {"role": "user", "content": "q?"}]}) == "q?"
    assert item_contexts({"metadata": {"context": "c1", "documents": ["d1", {"content": "d2"}, {"x": 1}, ""]}}) == \
        ["c1", "d1", "d2"]
