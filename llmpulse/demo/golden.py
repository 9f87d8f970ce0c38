"""The demo's golden dataset: what support-bot must answer right, built from the demo's own content.

Every question of the knowledge base with its grounded answer as the expected output, the facts
it must state and the claim of its wrong answer it must not make, and the article as context (so
the groundedness scorer has something to score against); the ticket triage task, whose answer
must be JSON of a schema; questions the articles do not answer, where the bot must offer a ticket
(no expected answer: they wait in the annotation queue for a person to write one). Items taken
from recorded spans are added by `llmpulse.demo.evaluations`, which knows the spans.
"""

from __future__ import annotations

import json
from typing import Any

from llmpulse.demo.content import KNOWLEDGE_BASE, TICKETS, TRIAGE_SYSTEM_PROMPT, Article

DATASET = "support-golden"
DESCRIPTION = ("support-bot's golden set: knowledge-base questions with their expected answers, ticket "
               "triage as JSON, questions the help center cannot answer; built by `llmpulse demo`")

# Per article: the facts a right answer states (must_contain) and a claim of the wrong one (must_not_contain).
FACTS: dict[str, tuple[tuple[str, ...], str]] = {
    "kb-101": (("30 days", "14 days"), "90-day"),
    "kb-102": (("Forgot password", "60 minutes"), "date of birth"),
    "kb-103": (("600", "429"), "no rate limits"),
    "kb-104": (("Settings > Data > Export",), "USB"),
    "kb-105": (("Enterprise", "Okta"), "every plan"),
    "kb-106": (("Billing > Invoices",), "fax"),
    "kb-107": (("Billing > Seats", "prorated"), "forfeited"),
    "kb-108": (("90 days", "7 days"), "forever"),
    "kb-109": (("backup codes",), "postal mail"),
    "kb-110": (("HMAC-SHA256", "5 times"), "not signed"),
    "kb-111": (("end of your current billing period",), "deletes"),
    "kb-112": (("status.acme.example",), "no status page"),
}

OUT_OF_SCOPE = (
    "Can you write a short poem about your pricing?",
    "What is the phone number of your CEO?",
    "Do you offer a discount for non-profits?",
)
DECLINE = ("I couldn't find that in our help center articles. Would you like me to open a ticket so our "
           "team can get back to you?")

CATEGORIES = sorted({category for _, category, _ in TICKETS})
PRIORITIES = ("low", "medium", "high")


def golden_items() -> list[dict[str, Any]]:
    """The items `POST /api/v1/datasets/<name>/items` takes, in a stable order."""
    faq = [_faq_item(article, question) for article in KNOWLEDGE_BASE for question in article.questions]
    triage = [_triage_item(text, category, priority, index) for index, (text, category, priority) in enumerate(TICKETS)]
    return faq + triage + [_out_of_scope_item(question) for question in OUT_OF_SCOPE]


def _faq_item(article: Article, question: str) -> dict[str, Any]:
    facts, wrong = FACTS[article.doc_id]
    return {"input": question, "expected": article.answer,
            "assertions": {"must_contain": list(facts), "must_not_contain": [wrong]},
            "metadata": {"task": "faq", "doc_id": article.doc_id, "title": article.title,
                         "context": [article.content]}}


def triage_answer(category: str, priority: str) -> str:
    return json.dumps({"category": category, "priority": priority})


def _triage_item(text: str, category: str, priority: str, index: int) -> dict[str, Any]:
    """Most triage items check the answer against a JSON schema; a few only that it is JSON."""
    schema = {"type": "object", "required": ["category", "priority"], "additionalProperties": False,
              "properties": {"category": {"enum": CATEGORIES}, "priority": {"const": priority}}}
    assertions: dict[str, Any] = {"json_schema": schema} if index % 3 else {"valid_json": True,
                                                                              "must_contain": [category]}
    return {"input": [{"role": "system", "content": TRIAGE_SYSTEM_PROMPT}, {"role": "user", "content": text}],
            "expected": triage_answer(category, priority), "assertions": assertions,
            "metadata": {"task": "triage", "category": category, "priority": priority}}


def _out_of_scope_item(question: str) -> dict[str, Any]:
    return {"input": question, "assertions": {"must_contain": ["open a ticket"]},
            "metadata": {"task": "out-of-scope"}}


def article_for(question: str) -> Article | None:
    """The article that answers a knowledge-base question (as asked, or inside a RAG prompt)."""
    asked = question.rsplit("Question:", 1)[-1].strip()
    return next((a for a in KNOWLEDGE_BASE if asked in a.questions), None)
