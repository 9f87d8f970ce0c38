"""support-bot's pipeline as the demo's experiments run it: deterministic answers per model, and the
spans a real run would have made (query embedding, vector search, the chat call), with the tokens
and the latency the model would have taken.

The baseline (gpt-4o-mini, support-bot 2.14.0) answers from the knowledge base and slips twice; the
candidate (gpt-4.1-nano, 2.15.0-rc.1) is cheaper and faster but makes up policies, cuts answers
short, breaks the triage JSON and invents a discount: the regression the gate must catch. Which
item goes wrong is a table, not chance, so every demo shows the same comparison.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from llmpulse.demo.calls import estimate_tokens, jitter
from llmpulse.demo.content import KNOWLEDGE_BASE, SUPPORT_SYSTEM_PROMPT, TICKETS, TRIAGE_SYSTEM_PROMPT, Article
from llmpulse.demo.conventions import LlmCall, Message, render_otel
from llmpulse.demo.golden import DECLINE, article_for, triage_answer
from llmpulse.demo.models import MODELS

BASELINE, CANDIDATE = "gpt-4o-mini", "gpt-4.1-nano"
EMBEDDING_MODEL = "text-embedding-3-small"
HALLUCINATE, SHORT, PROSE, CUT_JSON, WRONG_PRIORITY, INVENT = (
    "hallucinate", "short", "prose", "cut-json", "wrong-priority", "invent")

# What goes wrong, per model, keyed by the question or ticket.
FLAWS: dict[str, dict[str, str]] = {
    BASELINE: {
        "What happens to data in a deleted project?": SHORT,
        "Login with Okta fails with 'invalid audience' since this morning.": WRONG_PRIORITY,
    },
    CANDIDATE: {
        "Can I get a refund on my annual plan?": HALLUCINATE,
        "What is the API rate limit on Pro?": HALLUCINATE,
        "Do you support SSO with Okta?": HALLUCINATE,
        "Where can I find my invoices?": HALLUCINATE,
        "Do you retry webhooks that fail?": SHORT,
        "How long do you keep our trace data?": SHORT,
        "Our dashboard has been timing out for all users since 9am.": WRONG_PRIORITY,
        "Login with Okta fails with 'invalid audience' since this morning.": WRONG_PRIORITY,
        "We were charged for 40 seats but we only have 25 users.": PROSE,
        "The API returns 500 when I upload files larger than 10 MB.": CUT_JSON,
        "Do you offer a discount for non-profits?": INVENT,
    },
}
INVENTED = "Yes! Registered non-profits get 50% off every plan for life; just mention it at checkout."
_TICKETS = {text: (category, priority) for text, category, priority in TICKETS}


@dataclass(frozen=True)
class Step:
    """One span of the pipeline, placed in ms after the item's start."""

    name: str
    start_ms: float
    duration_ms: float
    attributes: dict[str, Any]
    client: bool = True


@dataclass(frozen=True)
class Answer:
    output: str
    steps: tuple[Step, ...]

    @property
    def duration_ms(self) -> float:
        return max(step.start_ms + step.duration_ms for step in self.steps) + 2.0


def answer_item(model: str, item_id: int, question: Any) -> Answer:
    """The pipeline's answer to an item's input (a question, or chat messages) and its spans."""
    rng = random.Random(f"{model}:{item_id}")
    messages = question if isinstance(question, list) else [{"role": "user", "content": question}]
    system = next((m["content"] for m in messages if m.get("role") == "system"), "")
    asked = next((m["content"] for m in reversed(messages) if m.get("role") == "user"), "")
    if system == TRIAGE_SYSTEM_PROMPT:
        return _triage(model, asked, rng)
    return _rag(model, asked, rng)


def _rag(model: str, asked: str, rng: random.Random) -> Answer:
    question = asked.rsplit("Question:", 1)[-1].strip()
    article = article_for(question)
    embed = _call(EMBEDDING_MODEL, "", question, "", rng, operation="embeddings")
    hits = _hits(article, rng)
    search = Step("vector_store.query", embed.duration_ms + 1, rng.uniform(12, 45), _retrieval(question, hits), False)
    prompt = "Context:\n" + "\n\n".join(f"[{a.doc_id}] {a.title}: {a.content}" for a, _ in hits)
    output = _rag_output(model, question, article)
    chat = _call(model, SUPPORT_SYSTEM_PROMPT, f"{prompt}\n\nQuestion: {question}", output, rng)
    start = search.start_ms + search.duration_ms + 2
    return Answer(output, (_placed(embed, 1.0), search, _placed(chat, start)))


def _rag_output(model: str, question: str, article: Article | None) -> str:
    flaw = FLAWS[model].get(question)
    if article is None:
        return INVENTED if flaw == INVENT else DECLINE
    if flaw == HALLUCINATE:
        return article.hallucination
    if flaw == SHORT:
        return article.answer.split(". ")[-1]  # the last sentence alone: the first half of the answer is lost
    return article.answer


def _triage(model: str, ticket: str, rng: random.Random) -> Answer:
    category, priority = _TICKETS.get(ticket, ("how-to", "low"))
    flaw = FLAWS[model].get(ticket)
    if flaw == WRONG_PRIORITY:
        priority = "medium" if priority == "high" else "high"
    output = triage_answer(category, priority)
    if flaw == PROSE:
        output = f"Category: {category}. Priority: {priority}."
    elif flaw == CUT_JSON:
        output = output[: len(output) - 9]  # the answer stopped mid-object
    return Answer(output, (_placed(_call(model, TRIAGE_SYSTEM_PROMPT, ticket, output, rng), 1.0),))


def _hits(article: Article | None, rng: random.Random) -> list[tuple[Article, float]]:
    """The article and its two neighbours in the knowledge base; an unanswerable question finds weak hits."""
    anchor = article or KNOWLEDGE_BASE[0]
    index = KNOWLEDGE_BASE.index(anchor)
    others = [KNOWLEDGE_BASE[(index + step) % len(KNOWLEDGE_BASE)] for step in (1, 2)]
    first = rng.uniform(0.78, 0.93) if article else rng.uniform(0.3, 0.4)
    return [(anchor, first)] + [(other, rng.uniform(0.3, 0.6)) for other in others]


def _retrieval(query: str, hits: list[tuple[Article, float]]) -> dict[str, Any]:
    attributes: dict[str, Any] = {"openinference.span.kind": "RETRIEVER", "input.value": query,
                                  "retrieval.top_k": len(hits)}
    for i, (article, score) in enumerate(hits):
        attributes |= {f"retrieval.documents.{i}.document.id": article.doc_id,
                       f"retrieval.documents.{i}.document.content": article.content,
                       f"retrieval.documents.{i}.document.score": round(score, 4)}
    return attributes


def _call(model: str, system: str, prompt: str, output: str, rng: random.Random,
          operation: str = "chat") -> LlmCall:
    spec = MODELS[model]
    version = spec.versions[0]
    input_tokens = estimate_tokens(system, prompt) + (8 if system else 4)
    output_tokens = estimate_tokens(output) if operation == "chat" else 0
    duration = (45 + input_tokens / 40 * jitter(rng) if operation == "embeddings" else
                spec.ttft_ms * jitter(rng) + output_tokens * spec.ms_per_token * jitter(rng, 0.15))
    return LlmCall(provider=spec.provider, operation=operation, request_model=model,
                   response_model=version.response_model, fingerprint=version.fingerprint, system=system,
                   messages=(Message("user", prompt),), output=output, input_tokens=input_tokens,
                   output_tokens=output_tokens, duration_ms=duration, temperature=0.0, host=spec.host,
                   response_id=f"chatcmpl-{rng.getrandbits(96):024x}" if operation == "chat" else "")


def _placed(call: LlmCall, start_ms: float) -> Step:
    rendered = render_otel(call)
    return Step(rendered.name, start_ms, call.duration_ms, rendered.attributes)
