"""The offline groundedness scorer on the demo's knowledge base and on hand-written cases."""

from __future__ import annotations

import random

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from detectors.scoring import groundedness as g
from detectors.scoring.groundedness import (
    GROUNDED,
    HALLUCINATED,
    UNKNOWN,
    extract_claims,
    score_groundedness,
    split_sentences,
)
from detectors.scoring.texts import answer_text, extract_context
from llmpulse.demo.content import KNOWLEDGE_BASE, SUPPORT_SYSTEM_PROMPT, Article
from llmpulse.demo.models import VERBOSE_TAILS
from llmpulse.demo.scenarios import _context_prompt

DRAWS = 3  # distractor sets per question


def _rag_case(article: Article, question: str, rng: random.Random) -> tuple[str, list[str]]:
    """(question, contexts) as the demo's RAG call stores them: system prompt, then the context prompt."""
    others = rng.sample([a for a in KNOWLEDGE_BASE if a is not article], 2)
    hits = [(article, 0.9), *((a, 0.5) for a in others)]
    messages = [{"role": "system", "content": SUPPORT_SYSTEM_PROMPT},
                {"role": "user", "content": _context_prompt(question, hits)}]
    return extract_context(messages, [{"id": article.doc_id, "content": article.content, "score": 0.9}])


def _demo_labels(answer_of) -> list[str]:
    labels = []
    for index, article in enumerate(KNOWLEDGE_BASE):
        rng = random.Random(index)
        for question in article.questions:
            for _ in range(DRAWS):
                asked, contexts = _rag_case(article, question, rng)
                labels.append(score_groundedness(answer_of(article, index), contexts, asked).label)
    return labels


def _accuracy(labels: list[str], expected: str) -> float:
    return sum(label == expected for label in labels) / len(labels)


def _article(doc_id: str) -> Article:
    return next(a for a in KNOWLEDGE_BASE if a.doc_id == doc_id)


def _contexts(doc_id: str) -> list[str]:
    """The article, two fixed distractors and the system prompt."""
    index = KNOWLEDGE_BASE.index(_article(doc_id))
    distractors = [KNOWLEDGE_BASE[(index + step) % len(KNOWLEDGE_BASE)].content for step in (4, 7)]
    return [SUPPORT_SYSTEM_PROMPT, _article(doc_id).content, *distractors]


# --- calibration on the demo content ----------------------------------------------------------------


def test_demo_grounded_answers_are_grounded():
    assert _accuracy(_demo_labels(lambda article, _: article.answer), GROUNDED) >= 0.9


def test_demo_wrong_answers_are_hallucinated():
    assert _accuracy(_demo_labels(lambda article, _: article.hallucination), HALLUCINATED) >= 0.9


def test_demo_chatty_tail_of_the_drifted_model_is_not_a_hallucination():
    labels = _demo_labels(lambda article, i: article.answer + VERBOSE_TAILS[i % len(VERBOSE_TAILS)])
    assert _accuracy(labels, GROUNDED) >= 0.9


# --- hand-written cases -----------------------------------------------------------------------------


@pytest.mark.parametrize(("doc_id", "answer"), [
    ("kb-101", "You can get your money back on an annual plan if you ask within 30 days; the refund is "
               "prorated for the months you have used."),
    ("kb-102", "Choose 'Forgot password' on the sign-in page. The link only works once and expires after 60 minutes."),
    ("kb-108", "On the Pro plan we keep your trace data for 90 days."),
    ("kb-110", "We sign every webhook with HMAC-SHA256; check the X-Acme-Signature header. If a delivery fails "
               "we retry it 5 times within 24 hours."),
])
def test_paraphrased_correct_answer_is_grounded(doc_id, answer):
    result = score_groundedness(answer, _contexts(doc_id), _article(doc_id).questions[0])
    assert result.label == GROUNDED, result
    assert result.score >= g.UNSUPPORTED_BELOW


@pytest.mark.parametrize(("doc_id", "true", "changed"), [
    ("kb-103", "600 API requests", "1,000 API requests"),
    ("kb-101", "within 14 days", "within 21 days"),
    ("kb-108", "90 days on Pro", "180 days on Pro"),
    ("kb-104", "expires after 7 days", "expires after 30 days"),
])
def test_a_changed_number_is_flagged(doc_id, true, changed):
    article = _article(doc_id)
    assert score_groundedness(article.answer, _contexts(doc_id)).label == GROUNDED
    result = score_groundedness(article.answer.replace(true, changed), _contexts(doc_id))
    assert result.label == HALLUCINATED
    assert changed in result.reason


def test_a_number_from_another_article_does_not_support_a_claim():
    """kb-102 says "60 minutes"; "60 days" in a refund answer is still invented."""
    contexts = [_article("kb-101").content, _article("kb-102").content]
    result = score_groundedness("Annual plans can be refunded within 60 days of the charge.", contexts)
    assert result.label == HALLUCINATED


def test_a_fabricated_extra_claim_is_flagged_and_named():
    extra = "You can also schedule automatic weekly exports to Amazon S3."
    result = score_groundedness(f"{_article('kb-104').answer} {extra}", _contexts("kb-104"))
    assert result.label == HALLUCINATED
    assert "weekly exports to Amazon S3" in result.reason
    weakest = min(result.claims, key=lambda c: c.support)
    assert weakest.text == extra
    assert all(c.support >= g.UNSUPPORTED_BELOW for c in result.claims if c is not weakest)


def test_an_invented_name_is_flagged():
    answer = "SAML single sign-on is available on the Enterprise plan and works with Okta and Auth0."
    assert score_groundedness(answer, _contexts("kb-105")).label == HALLUCINATED


@pytest.mark.parametrize("answer", [
    "I'm sorry, I don't have that information in our help articles. I can open a ticket for you so our "
    "support team can check.",
    "The context doesn't mention student discounts. Would you like me to open a ticket?",
    "I couldn\u2019t find anything about that in the documentation.",
])
def test_a_refusal_is_not_a_hallucination(answer):
    result = score_groundedness(answer, _contexts("kb-101"), "Do you offer student discounts?")
    assert result.label == GROUNDED
    assert result.score == 1.0
    assert "declines" in result.reason


def test_a_refusal_does_not_hide_an_invented_claim():
    answer = "I don't have that information. Student plans cost $5 per month with a 50% discount."
    assert score_groundedness(answer, _contexts("kb-101")).label == HALLUCINATED


@pytest.mark.parametrize("contexts", [[], [""], ["   \n  "]])
def test_no_context_is_unknown(contexts):
    result = score_groundedness(_article("kb-101").answer, contexts)
    assert (result.label, result.claims) == (UNKNOWN, ())
    assert "no context" in result.reason


@pytest.mark.parametrize("answer", ["", "  \n"])
def test_an_empty_answer_is_unknown(answer):
    result = score_groundedness(answer, _contexts("kb-101"))
    assert result.label == UNKNOWN
    assert "empty" in result.reason


def test_pleasantries_alone_claim_nothing():
    result = score_groundedness("You're welcome! Have a great day.", _contexts("kb-101"))
    assert (result.label, result.claims) == (GROUNDED, ())


def test_scoring_is_deterministic():
    article = _article("kb-106")
    results = {score_groundedness(a, _contexts("kb-106")) for a in [article.hallucination] * 3}
    assert len(results) == 1


def test_claims_record_their_best_evidence():
    result = score_groundedness(_article("kb-108").answer, _contexts("kb-108"))
    assert [c.best_evidence for c in result.claims] == [
        "Trace data is kept for 30 days on the Free plan, 90 days on Pro and 400 days on Enterprise.",
        "Deleted projects are purged after 7 days.",
    ]


# --- text units ---------------------------------------------------------------------------------------


def test_sentences_survive_decimals_domains_abbreviations_and_lists():
    text = "It costs $84.90, e.g. for Pro. See status.acme.example now!\n- first item\n2. second item"
    assert split_sentences(text) == [
        "It costs $84.90, e.g. for Pro.", "See status.acme.example now!", "first item", "second item"]


def test_claims_split_independent_clauses_but_keep_dependent_ones():
    claims = extract_claims(
        "Invoices are sent by fax every quarter, and VAT numbers are only added by phone on weekends. "
        "You get 10 single-use codes; use one of them. Yes.")
    assert claims == ["Invoices are sent by fax every quarter", "VAT numbers are only added by phone on weekends.",
                      "You get 10 single-use codes; use one of them."]


def test_tfidf_matches_scikit_learn():
    corpus = ["Refunds take 5 to 10 business days.", "Monthly plans can be refunded within 14 days.",
              "Annual plans within 30 days, prorated.", "Refunds refunds refunds."]
    for vectorizer in (g.WORD_NGRAMS, g.CHAR_NGRAMS):
        reference = TfidfVectorizer(**{**vectorizer.get_params(), "sublinear_tf": True}).fit_transform(corpus)
        ours = g._tfidf(corpus, vectorizer.build_analyzer())
        np.testing.assert_allclose((ours @ ours.T).toarray(), (reference @ reference.T).toarray(), atol=1e-12)


# --- where question, context and answer come from -----------------------------------------------------


def test_extract_context_from_the_demo_rag_prompt():
    article = _article("kb-103")
    hits = [(article, 0.9), (_article("kb-101"), 0.5)]
    messages = [{"role": "system", "content": SUPPORT_SYSTEM_PROMPT},
                {"role": "user", "content": _context_prompt("Why am I getting 429 errors?", hits)}]
    documents = [{"id": "kb-103", "content": article.content, "score": 0.9}]
    question, contexts = extract_context(messages, documents)
    assert question == "Why am I getting 429 errors?"
    assert contexts == [SUPPORT_SYSTEM_PROMPT, f"[kb-103] API rate limits: {article.content}",
                        f"[kb-101] Refund policy: {_article('kb-101').content}"]  # the document is in the prompt


def test_extract_context_from_parts_tools_and_search_results():
    messages = [
        {"role": "system", "parts": [{"type": "text", "content": "Answer from the results."}]},
        {"role": "user", "content": "Where is my order?"},
        {"role": "assistant", "content": "", "tool_calls": [{"id": "c1", "name": "lookup", "arguments": "{}"}]},
        {"role": "tool", "content": '{"status": "shipped"}', "tool_call_id": "c1"},
        {"role": "user", "content": [{"type": "text", "text": "Query: rate limits\n\nResults:\n- Pro: 600 per minute.\n"
                                                              "- Enterprise: 3,000 per minute."}]},
    ]
    question, contexts = extract_context(messages, [{"content": "Retrieved text.", "id": "d1"}, {"id": "d2"}])
    assert question == "rate limits"
    assert contexts == ["Retrieved text.", "Answer from the results.", '{"status": "shipped"}',
                        "Pro: 600 per minute.", "Enterprise: 3,000 per minute."]


def test_extract_context_of_a_plain_chat():
    question, contexts = extract_context([{"role": "user", "content": "  What is an idempotency key?  "}], [])
    assert (question, contexts) == ("What is an idempotency key?", [])


def test_answer_text_joins_assistant_text_only():
    messages = [
        {"role": "assistant", "content": "First part.", "finish_reason": "stop"},
        {"role": "assistant", "content": "", "tool_calls": [{"id": "c", "name": "f", "arguments": "{}"}]},
        {"role": "assistant", "parts": [{"type": "text", "content": "Second part."}]},
        {"role": "tool", "content": "not the answer"},
    ]
    assert answer_text(messages) == "First part.\nSecond part."
    assert answer_text([]) == ""
