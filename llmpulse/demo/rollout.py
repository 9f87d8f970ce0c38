"""What a team testing a change adds to support-bot's traffic: an A/B test of two prompt versions on
its RAG answers, and a candidate model answering a share of its chat turns in shadow.

Prompt v2 asks the model to reason, quote its source and summarize: a longer prompt and a longer
answer (a little more expensive, and slower), and a few more answers that stray from the context, so a comparison
of the two cohorts by `llmpulse.prompt.version` finds v2 worse. Versions are drawn per trace at
random (a real A/B split), not by time, so the silent model change at the window's midpoint falls
evenly on both cohorts.

The candidate (gpt-4.1-mini) answers the same messages in the same trace; its span carries
`llmpulse.shadow_of` = the primary call's span id and its answer never reaches the user. It often
says the same, sometimes says it differently, sometimes diverges. Two shadow calls of a run lose
their primary (the app crashed before exporting it): llmpulse lists them as unpaired.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from urllib.parse import urlencode

from llmpulse.demo.calls import CallRequest, TraceBuilder, TraceContext, shadow_call
from llmpulse.demo.content import SUPPORT_SYSTEM_PROMPT, Article
from schemas.shadow_fields import SHADOW_OF_ATTRIBUTE

PROMPT_VERSION = "llmpulse.prompt.version"
SHADOW_OF = SHADOW_OF_ATTRIBUTE
CANDIDATE_MODEL = "gpt-4.1-mini"
SHADOW_RATE = 0.3  # share of chat turns the candidate answers too
ORPHANS = (2, 8)  # the shadow calls (1-based, in the run's order) whose primary is never sent


@dataclass(frozen=True)
class PromptVersion:
    name: str
    system: str
    latency_factor: float
    ungrounded_rate: float
    summarizes: bool = False  # the answer ends with its source and a one-line summary: more output tokens

    def finish(self, answer: str, article: Article) -> str:
        if not self.summarizes:
            return answer
        return f"{answer}\n\nSource: [{article.doc_id}] {article.title}. In short: {answer.split('. ')[0].rstrip('.')}."


PROMPT_VERSIONS = (
    PromptVersion("v1", SUPPORT_SYSTEM_PROMPT, 1.0, 0.15),
    PromptVersion(
        "v2",
        SUPPORT_SYSTEM_PROMPT + " Before answering, think through the question step by step, quote the "
        "sentences of the articles you rely on, combine articles when several apply, and end with a "
        "one-line summary the customer can act on.",
        1.1,
        0.24,
        summarizes=True,
    ),
)

# Per chat turn (content.CHAT_TURNS, same order): the candidate's answer said differently, and one that diverges.
CANDIDATE_ANSWERS: tuple[tuple[str, str], ...] = (
    ("Here's a draft: \"Hi all, the main database migration runs this Saturday, 08:00-10:00 UTC. The app will "
     "be read-only while it runs, so please pause deploys until we give the all-clear. Thanks!\"",
     "I can't send messages to your team, but you could mention the migration in your team's chat channel."),
    ("An idempotency key is a unique token attached to a request so that, if the request is retried, the "
     "server applies it only once. Use it for calls that create or charge something.",
     "An idempotency key is an API key that never expires; use one for long-running background jobs."),
    ("Average latency is the mean of all requests, so a few slow ones get hidden by many fast ones. The p95 "
     "is the value 95% of requests are faster than: it shows what your slowest users experience.",
     "p95 and average latency measure the same thing; p95 is just averaged over 95% of the time window."),
    ("Issue a new key, roll it out to every client, wait until the old key sees no traffic, then revoke it. "
     "Both keys stay valid until then.",
     "Revoke the old key first, then create a new one; clients reconnect automatically within a few minutes."),
    ("A webhook is an automatic message our system sends to yours as soon as something happens, a bit like "
     "a doorbell, so nobody has to keep checking for changes.",
     "A webhook is a browser plug-in that shows our website inside your own tools."),
    ("- Deploy\n- Smoke test\n- Announce\n- Monitor",
     "1. Announce the change\n2. Deploy\n3. Monitor\n(Smoke tests are optional for small releases.)"),
    ("Try `billing.new_page.enabled`: it names the area, the feature and its state, so it reads clearly in "
     "code and in the flag dashboard.",
     "Call it `flag1`: short names are the easiest to type."),
    ("You're welcome, have a great day!",
     "Before you go, would you like me to summarize our conversation and email it to you?"),
)
_SAME, _REPHRASED = 0.5, 0.8  # cumulative shares: the same answer, said differently, else divergent


def pages() -> list[str]:
    """Where the A/B test and the shadow calls show, under the UI's URL."""
    return [f"/evaluations/ab?{urlencode({'attribute': PROMPT_VERSION, 'a': 'v1', 'b': 'v2'})}", "/evaluations/shadow"]


def pick_prompt_version(context: TraceContext) -> PromptVersion:
    return context.side.rng.choice(PROMPT_VERSIONS)


def candidate_answer(rng: random.Random, turn: int, primary_answer: str) -> str:
    draw = rng.random()
    if draw < _SAME:
        return primary_answer
    rephrased, divergent = CANDIDATE_ANSWERS[turn % len(CANDIDATE_ANSWERS)]
    return rephrased if draw < _REPHRASED else divergent


def shadow_chat(b: TraceBuilder, primary: str, request: CallRequest, turn: int) -> None:
    """Maybe send the primary call's input to the candidate too, in parallel, under the same parent."""
    side = b.context.side
    if side.rng.random() >= SHADOW_RATE:
        return
    side.shadows += 1
    planned = next(span for span in b.spans if span.key == primary)
    candidate = replace(request, model=CANDIDATE_MODEL, output=candidate_answer(side.rng, turn, request.output),
                        cache_read=0, cache_write=0)
    if side.shadows in ORPHANS:
        b.spans.remove(planned)  # the primary is never exported: its id lives on only in the shadow span
        extra = {**candidate.extra, SHADOW_OF: f"{side.ids.getrandbits(64):016x}"}
        shadow_call(b, planned.parent or "root", planned.start_ms + 0.3, replace(candidate, extra=extra), None)
        return
    shadow_call(b, planned.parent or "root", planned.start_ms + 0.3, candidate, primary)
