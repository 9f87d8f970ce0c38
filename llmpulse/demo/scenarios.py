"""The demo's scenarios: what each kind of trace does (`llmpulse.demo.traffic` picks and times them).

Each scenario is a short function over a `TraceBuilder`; `SCENARIOS` says which service runs it
and how often, so the traffic mix is one table.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, replace

from llmpulse.demo.calls import (
    AGENT,
    CHAIN,
    HTTP,
    RETRIEVAL,
    TOOL,
    CallRequest,
    TraceBuilder,
    call_model,
    estimate_tokens,
    user_fields,
)
from llmpulse.demo.content import (
    AGENT_SYSTEM_PROMPT,
    AGENT_TASKS,
    AGENT_TOOL_TOKENS,
    CHAT_PREFIX_TOKENS,
    CHAT_SYSTEM_PROMPT,
    CHAT_TURNS,
    DRAFT_PREFIX_TOKENS,
    DRAFT_SYSTEM_PROMPT,
    KNOWLEDGE_BASE,
    SEARCH_SYSTEM_PROMPT,
    SUPPORT_SYSTEM_PROMPT,
    TICKETS,
    TRIAGE_SYSTEM_PROMPT,
    AgentTask,
    Article,
)
from llmpulse.demo.conventions import OPENINFERENCE, OPENLLMETRY, OTEL, VERCEL, Message, ToolCall
from llmpulse.demo.models import MODELS
from llmpulse.demo.rollout import PROMPT_VERSION, pick_prompt_version, shadow_chat

UNGROUNDED_RATE = 0.15
GROUNDED_ATTRIBUTE = "llmpulse.demo.grounded"

# (model, convention the service's instrumentation uses for it, weight)
_RAG_MODELS = (
    ("gpt-4o-mini", OTEL, 0.6),
    ("claude-sonnet-4-5", OPENINFERENCE, 0.25),
    ("gpt-4o", OPENINFERENCE, 0.15),
)
_CHAT_MODELS = (("claude-sonnet-4-5", 0.75), ("claude-haiku-4-5", 0.25))
_AGENT_MODELS = (("gpt-4.1-mini", 0.5), ("claude-sonnet-4-5", 0.3), ("gpt-4o", 0.2))
_REPLY_HOURS = {"high": 1, "medium": 8, "low": 24}


def pick_weighted(rng: random.Random, table: tuple[tuple, ...]) -> tuple:
    return rng.choices(table, weights=[row[-1] for row in table])[0]


# --- retrieval-augmented answers ----------------------------------------------------------------


def _retrieve(rng: random.Random, article: Article) -> list[tuple[Article, float]]:
    others = rng.sample([a for a in KNOWLEDGE_BASE if a is not article], 2)
    hits = [(article, rng.uniform(0.78, 0.93)), *((a, rng.uniform(0.41, 0.69)) for a in others)]
    return sorted(hits, key=lambda hit: -hit[1])


def _retrieval_attributes(query: str, hits: list[tuple[Article, float]]) -> dict:
    attributes: dict = {
        "openinference.span.kind": "RETRIEVER",
        "input.value": query,
        "retrieval.top_k": len(hits),
    }
    for i, (article, score) in enumerate(hits):
        attributes |= {
            f"retrieval.documents.{i}.document.id": article.doc_id,
            f"retrieval.documents.{i}.document.content": article.content,
            f"retrieval.documents.{i}.document.score": round(score, 4),
            f"retrieval.documents.{i}.document.metadata": json.dumps({"title": article.title}),
        }
    return attributes


def _context_prompt(question: str, hits: list[tuple[Article, float]]) -> str:
    context = "\n\n".join(f"[{a.doc_id}] {a.title}: {a.content}" for a, _ in hits)
    return f"Context:\n{context}\n\nQuestion: {question}"


def _retrieve_step(
    b: TraceBuilder, parent: str, start_ms: float, article: Article, query: str, embed_convention: str
) -> tuple[float, list[tuple[Article, float]]]:
    """Embed the query, then search the vector store: the first half of every RAG pipeline."""
    embed = CallRequest("text-embedding-3-small", embed_convention, (Message("user", query),))
    end, _ = call_model(b, parent, start_ms, embed)
    hits = _retrieve(b.context.rng, article)
    duration = b.context.rng.uniform(12, 70)
    end = b.add(parent, "vector_store.query", end + 1, duration, _retrieval_attributes(query, hits), RETRIEVAL)
    return end, hits


def _answer(rng: random.Random, article: Article, ungrounded_rate: float = UNGROUNDED_RATE) -> tuple[str, bool]:
    grounded = rng.random() >= ungrounded_rate
    return (article.answer if grounded else article.hallucination), grounded


def plan_rag_answer(b: TraceBuilder) -> None:
    """Retrieve, then answer with one of two prompt versions under A/B test (`llmpulse.demo.rollout`)."""
    rng = b.context.rng
    version = pick_prompt_version(b.context)
    article = rng.choice(KNOWLEDGE_BASE)
    question = rng.choice(article.questions)
    model, convention, _ = pick_weighted(rng, _RAG_MODELS)
    end, hits = _retrieve_step(b, "root", rng.uniform(1, 4), article, question, convention)
    answer, grounded = _answer(rng, article, version.ungrounded_rate)
    request = CallRequest(
        model,
        convention,
        (Message("user", _context_prompt(question, hits)),),
        version.finish(answer, article),
        version.system,
        stream=rng.random() < 0.5,
        latency_factor=version.latency_factor,
        extra={GROUNDED_ATTRIBUTE: grounded, PROMPT_VERSION: version.name},
    )
    end, call = call_model(b, "root", end + 2, request)
    b.add_root(
        "support.answer",
        end + 3,
        {
            "openinference.span.kind": "CHAIN",
            "input.value": question,
            "output.value": call.output,
            **user_fields(b.context),
        },
        CHAIN,
    )


def plan_cached_answer(b: TraceBuilder) -> None:
    """An application-level response cache hit: no provider call, zero tokens, a few ms."""
    rng = b.context.rng
    article = rng.choice(KNOWLEDGE_BASE)
    question = rng.choice(article.questions)
    request = CallRequest(
        "gpt-4o-mini",
        OTEL,
        (Message("user", question),),
        article.answer,
        SUPPORT_SYSTEM_PROMPT,
        app_cache_hit=True,
    )
    end, _ = call_model(b, "root", rng.uniform(0.5, 2), request)
    b.add_root("support.answer", end + 1, {"input.value": question, **user_fields(b.context)}, CHAIN)


def _http_root(b: TraceBuilder, method: str, route: str, end_ms: float) -> None:
    attributes = {
        "http.request.method": method,
        "http.route": route,
        "url.path": route,
        "http.response.status_code": 200,
        **user_fields(b.context),
    }
    b.add_root(f"{method} {route}", end_ms, attributes, HTTP, kind="server")


def _search_summary(b: TraceBuilder, start_ms: float, query: str, article: Article) -> float:
    end, hits = _retrieve_step(b, "root", start_ms, article, query, VERCEL)
    answer, grounded = _answer(b.context.rng, article)
    prompt = f"Query: {query}\n\nResults:\n" + "\n".join(f"- {a.title}: {a.content}" for a, _ in hits)
    extra = {"ai.telemetry.functionId": "search-summary", GROUNDED_ATTRIBUTE: grounded}
    request = CallRequest(
        "gemini-2.5-flash",
        VERCEL,
        (Message("user", prompt),),
        answer,
        SEARCH_SYSTEM_PROMPT,
        stream=True,
        extra=extra,
    )
    return call_model(b, "root", end + 2, request)[0]


def plan_search_summary(b: TraceBuilder) -> None:
    """A Node.js search API on the Vercel AI SDK: optional query rewrite, embed, search, streamed summary."""
    rng = b.context.rng
    article = rng.choice(KNOWLEDGE_BASE)
    query = rng.choice(article.questions)
    end = rng.uniform(1, 3)
    if rng.random() < 0.5:
        rewrite = CallRequest(
            "gpt-4.1-mini",
            VERCEL,
            (Message("user", f"Rewrite as a search query: {query}"),),
            article.title.lower(),
            chatty=False,
            extra={"ai.telemetry.functionId": "query-rewrite"},
        )
        end, _ = call_model(b, "root", end, rewrite)
    end = _search_summary(b, end + 1, query, article)
    _http_root(b, "GET", "/api/search", end + 2)


# --- conversations --------------------------------------------------------------------------------


def _history(turn: int) -> tuple[Message, ...]:
    pairs = CHAT_TURNS[max(0, turn - 3) : turn]
    return tuple(m for user, assistant in pairs for m in (Message("user", user), Message("assistant", assistant)))


def plan_chat_turn(b: TraceBuilder) -> None:
    """One streamed turn of a multi-turn session; Anthropic's prompt cache holds the long system prompt.
    A candidate model answers some turns in shadow (`llmpulse.demo.rollout`)."""
    rng, turn = b.context.rng, b.context.turn % len(CHAT_TURNS)
    model, _ = pick_weighted(rng, _CHAT_MODELS)
    history = _history(turn)
    question, answer = CHAT_TURNS[turn]
    first = turn == 0
    request = CallRequest(
        model,
        OTEL,
        (*history, Message("user", question)),
        answer,
        CHAT_SYSTEM_PROMPT,
        stream=True,
        prefix_tokens=CHAT_PREFIX_TOKENS,
        cache_read=0 if first else CHAT_PREFIX_TOKENS,
        cache_write=CHAT_PREFIX_TOKENS if first else estimate_tokens(*(m.content for m in history[-2:])),
    )
    end, _ = call_model(b, "root", rng.uniform(2, 6), request)
    shadow_chat(b, b.last_key(), request, turn)
    _http_root(b, "POST", "/v1/chat", end + 4)


# --- agents ---------------------------------------------------------------------------------------


def _tool_span(b: TraceBuilder, start_ms: float, call: ToolCall, result: str) -> float:
    attributes = {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": call.name,
        "gen_ai.tool.call.id": call.call_id,
        "gen_ai.tool.type": "function",
        "gen_ai.tool.call.arguments": call.arguments,
        "gen_ai.tool.call.result": result,
    }
    duration = b.context.rng.uniform(30, 700)
    return b.add("root", f"execute_tool {call.name}", start_ms, duration, attributes, TOOL)


def _agent_request(b: TraceBuilder, model: str, messages: tuple[Message, ...], iteration: int) -> CallRequest:
    """Agent calls resend system prompt and tools; the provider's cache serves them after the first call."""
    anthropic = MODELS[model].provider == "anthropic"
    cached = AGENT_TOOL_TOKENS if anthropic else AGENT_TOOL_TOKENS // 128 * 128
    return CallRequest(
        model,
        OTEL,
        messages,
        system=AGENT_SYSTEM_PROMPT,
        prefix_tokens=AGENT_TOOL_TOKENS,
        cache_read=cached if iteration else 0,
        cache_write=AGENT_TOOL_TOKENS if anthropic and not iteration else 0,
    )


def _agent_iteration(
    b: TraceBuilder, start_ms: float, request: CallRequest, steps: tuple, order: str
) -> tuple[float, tuple[Message, ...]]:
    """One loop turn: the model asks for tools, the tools run; returns the grown conversation."""
    calls = tuple(ToolCall(f"call_{b.ids_hex(48)}", s.name, s.arguments.replace("{order}", order)) for s in steps)
    end, _ = call_model(b, "root", start_ms, replace(request, tool_calls=calls, finish_reason="tool_calls"))
    results = []
    for tool_call, step in zip(calls, steps, strict=True):
        result = step.result.replace("{order}", order)
        end = _tool_span(b, end + 1, tool_call, result)
        results.append(Message("tool", result, tool_call_id=tool_call.call_id))
    return end, (*request.messages, Message("assistant", tool_calls=calls), *results)


def plan_agent_task(b: TraceBuilder) -> None:
    """An agent loop in OTel GenAI names: invoke_agent → (chat → execute_tool)* → final chat."""
    rng = b.context.rng
    task: AgentTask = rng.choice(AGENT_TASKS)
    model, _ = pick_weighted(rng, _AGENT_MODELS)
    order = f"A-{rng.randint(10000, 99999)}"
    messages: tuple[Message, ...] = (Message("user", task.prompt.format(order=order)),)
    end = rng.uniform(1, 3)
    for iteration, steps in enumerate(task.steps):
        end, messages = _agent_iteration(b, end + 2, _agent_request(b, model, messages, iteration), steps, order)
    final = _agent_request(b, model, messages, len(task.steps))
    end, _ = call_model(b, "root", end + 2, replace(final, output=task.answer.format(order=order)))
    attributes = {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": "order-assistant",
        "gen_ai.agent.id": "asst_order_v3",
        "gen_ai.provider.name": MODELS[model].provider,
        "gen_ai.request.model": model,
        "gen_ai.conversation.id": b.context.session_id,
        **user_fields(b.context),
    }
    b.add_root("invoke_agent order-assistant", end + 2, attributes, AGENT)


def _task_span(b: TraceBuilder, key: str, name: str, start_ms: float, end_ms: float, io: tuple[str, str]) -> None:
    attributes = {
        "traceloop.span.kind": "task",
        "traceloop.entity.name": name,
        "traceloop.entity.input": io[0],
        "traceloop.entity.output": io[1],
    }
    b.add("root", f"{name}.task", start_ms, end_ms - start_ms + 1, attributes, CHAIN, key=key)


def plan_ticket_triage(b: TraceBuilder) -> None:
    """A Traceloop-instrumented workflow (classic OpenLLMetry names): classify, then draft a reply."""
    rng = b.context.rng
    text, category, priority = rng.choice(TICKETS)
    verdict = json.dumps({"category": category, "priority": priority})
    classify_key, draft_key = b.reserve(), b.reserve()
    classify = CallRequest(
        "gpt-4o-mini", OPENLLMETRY, (Message("user", text),), verdict, TRIAGE_SYSTEM_PROMPT, chatty=False
    )
    start = rng.uniform(1, 3)
    end, _ = call_model(b, classify_key, start + 1, classify)
    _task_span(b, classify_key, "classify", start, end, (text, verdict))
    reply = (
        f"Hi, thanks for reaching out. We've passed this to our {category} team as {priority} priority "
        f"and will get back to you within {_REPLY_HOURS[priority]} hour(s)."
    )
    warm = rng.random() < 0.7
    draft = CallRequest(
        "claude-haiku-4-5",
        OPENLLMETRY,
        (Message("user", text),),
        reply,
        DRAFT_SYSTEM_PROMPT,
        prefix_tokens=DRAFT_PREFIX_TOKENS,
        cache_read=DRAFT_PREFIX_TOKENS if warm else 0,
        cache_write=0 if warm else DRAFT_PREFIX_TOKENS,
    )
    draft_end, _ = call_model(b, draft_key, end + 3, draft)
    _task_span(b, draft_key, "draft_reply", end + 2, draft_end, (text, reply))
    attributes = {
        "traceloop.span.kind": "workflow",
        "traceloop.workflow.name": "ticket_triage",
        "traceloop.entity.name": "ticket_triage",
        "traceloop.association.properties.user_id": b.context.user_id,
    }
    b.add_root("ticket_triage.workflow", draft_end + 2, attributes, CHAIN)


@dataclass(frozen=True)
class Scenario:
    name: str
    service: str
    weight: float
    plan: Callable[[TraceBuilder], None]
    sessions: bool = True  # traces of this scenario belong to a user's session


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("rag_answer", "support-bot", 0.32, plan_rag_answer),
    Scenario("chat_turn", "support-bot", 0.16, plan_chat_turn),
    Scenario("cached_answer", "support-bot", 0.08, plan_cached_answer),
    Scenario("search_summary", "search-api", 0.18, plan_search_summary),
    Scenario("agent_task", "agent-worker", 0.14, plan_agent_task),
    Scenario("ticket_triage", "agent-worker", 0.12, plan_ticket_triage, sessions=False),
)
