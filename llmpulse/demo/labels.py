"""The labels a person would have given some of the demo's RAG answers (`POST /api/v1/annotations`).

Grounded answers are marked correct, made-up ones incorrect with the knowledge base's answer as
the correction (the first of them also sent to the golden set, so it grows from production's
mistakes as the practice says), and one is left unsure with a comment. A few answers stay
unlabelled, so the Annotate page still has work to show. Pure: which label goes where is decided
from the recorded answers alone, and `llmpulse.demo.evaluations` posts them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llmpulse.demo.golden import article_for
from llmpulse.demo.send import RecordedAnswer

CORRECT_LABELS, INCORRECT_LABELS = 3, 3
WRONG_COMMENT = "makes up a policy: the retrieved article says otherwise"
UNSURE_COMMENT = "the facts match the article, but does it answer what the customer asked? check with support"


def plan_labels(answers: Sequence[RecordedAnswer], dataset: str | None,
                taken: Sequence[RecordedAnswer] = ()) -> list[dict[str, Any]]:
    """Label bodies for some answers; `taken` (already items of the dataset) are left alone; without
    a dataset no answer is sent to one."""
    skip = {answer.span_id for answer in taken}
    known = [a for a in answers if a.span_id not in skip and article_for(a.question)]
    grounded = [a for a in known if a.grounded]
    wrong = [a for a in known if not a.grounded]
    incorrect = [_body(a, "incorrect", WRONG_COMMENT, correction=True) for a in wrong[:INCORRECT_LABELS]]
    if incorrect and dataset:
        incorrect[0]["dataset"] = dataset
    bodies = [_body(a, "correct") for a in grounded[-CORRECT_LABELS:]] + incorrect
    if len(grounded) > CORRECT_LABELS:
        bodies.append(_body(grounded[-CORRECT_LABELS - 1], "unsure", UNSURE_COMMENT))
    return bodies


def _body(answer: RecordedAnswer, label: str, comment: str = "", correction: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {"trace_id": answer.trace_id, "span_id": answer.span_id, "label": label}
    if comment:
        body["comment"] = comment
    article = article_for(answer.question)
    if correction and article is not None:
        body["correct_answer"] = article.answer
    return body
