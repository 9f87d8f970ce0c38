"""Does a system or developer prompt carry context, or only instructions?

Many RAG apps put the retrieved text into the system prompt ("Answer only from this context:
Our warranty covers …"); such a call can be checked for groundedness. A bare instruction prompt
("You are a helpful assistant. Never …") grounds nothing, and scoring answers against it would
flag nearly every chat turn. A prompt is context when one of these small rules holds, each with
its reason:

1. a labelled block with content: a line "Context: …", a markdown heading "## Documents", or a
   tag "<context>…</context>" whose label is one of `CONTEXT_LABELS`;
2. a delimited passage (triple quotes, triple backticks, <<< >>>, a long quotation) that states
   something rather than instructing;
3. text beyond an instruction: at least `MIN_FACT_WORDS` content words in sentences that are
   statements, that is neither addressed to the model ("you", an imperative, "If …, reply …")
   nor about the exchange itself (the user, the answers, their tone or format).

The lists are data; the thresholds were set on the examples in
tests/unit/detectors/test_prompt_kind.py and the demo's prompts (llmpulse/demo/content.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Labels that introduce material to answer from (lower case; "_" and "-" read as spaces).
CONTEXT_LABELS = (
    "context", "contexts", "documents", "document", "docs", "sources", "source material", "reference",
    "references", "reference material", "reference text", "knowledge", "knowledge base", "information",
    "background", "background information", "facts", "excerpts", "passages", "articles", "retrieved documents",
    "retrieved context", "search results", "results", "data", "faq", "faqs", "policy", "policies",
    "product information", "transcript",
)
# First words of a clause that instruct ("Always cite…", "If unsure, say so", "Please…").
IMPERATIVES = frozenset({
    "act", "acknowledge", "adopt", "analyse", "analyze", "answer", "apologise", "apologize", "ask", "assume",
    "avoid", "be", "behave", "cite", "clarify", "classify", "confirm", "consider", "decline", "describe",
    "determine", "direct", "do", "don't", "dont", "draft", "emphasize", "encourage", "ensure", "escalate",
    "explain", "extract", "focus", "follow", "format", "generate", "give", "greet", "help", "highlight",
    "identify", "ignore", "imagine", "include", "keep", "kindly", "limit", "maintain", "make", "mention",
    "never", "always", "offer", "only", "please", "politely", "prefer", "pretend", "prioritise", "prioritize",
    "produce", "provide", "quote", "recommend", "redirect", "refer", "refuse", "rely", "remember", "remind",
    "reply", "respond", "rewrite", "say", "select", "speak", "stay", "stop", "suggest", "summarise",
    "summarize", "tell", "think", "translate", "treat", "try", "use", "verify", "write",
})
# Words that address the model.
ADDRESS = frozenset({"you", "your", "yours", "yourself", "you're", "you'll", "you've", "you'd"})
# Words about the exchange itself: a sentence using them describes the task, not the world.
META = frozenset({
    "ai", "answer", "answers", "assistant", "bot", "chat", "chatbot", "conversation", "format", "formatting",
    "instruction", "instructions", "json", "markdown", "message", "messages", "output", "persona",
    "prompt", "query", "queries", "question", "questions", "replies", "reply", "response", "responses",
    "role", "style", "task", "tone", "user", "users", "user's",
})
# Labels of instruction sections: a labelled block ends at one of them, or at a markdown heading.
INSTRUCTION_LABELS = (
    "instructions", "instruction", "rules", "guidelines", "task", "your task", "question", "query", "format",
    "output format", "response format", "style", "tone", "constraints", "examples", "role", "persona",
)
MIN_FACT_WORDS = 10  # content words in statements: "Today is 2024-06-01." alone grounds too little
MIN_BLOCK_WORDS = 3  # words after a label: "Context: none" or "Context: {context}" is an empty block
MIN_PASSAGE_WORDS = 8  # words in a delimited passage: a quoted stock phrase is not a document
MIN_STATEMENT_WORDS = 3  # content words that make a sentence a statement ("This is important." is not)

_FUNCTION_WORDS = frozenset({
    "a", "an", "the", "and", "or", "but", "if", "so", "of", "to", "in", "on", "at", "by", "for", "from", "with",
    "as", "is", "are", "was", "were", "be", "been", "it", "its", "this", "that", "these", "those", "there",
    "which", "who", "what", "not", "no", "can", "will", "all", "any", "each", "also", "very", "has", "have",
})
_LABELS = "|".join(sorted((re.escape(label).replace(r"\ ", r"[ _-]") for label in CONTEXT_LABELS),
                          key=len, reverse=True))
_LABEL_LINE = re.compile(rf"^[ \t]*(?:#{{1,6}}[ \t]*)?[*_\[]*[ \t]*({_LABELS})[ \t]*[*_\]]*[ \t]*(?::|$)",
                         re.IGNORECASE | re.MULTILINE)
_NEXT_SECTION = re.compile(r"^[ \t]*(?:#{1,6}[ \t]|[*_\[]*[ \t]*(?:" + "|".join(INSTRUCTION_LABELS)
                           + r")[ \t]*[*_\]]*[ \t]*:)", re.IGNORECASE | re.MULTILINE)
_TAG = re.compile(rf"<[ \t]*({_LABELS})\b[^>]*>(.*?)(?:<[ \t]*/[ \t]*\1[ \t]*>|\Z)", re.IGNORECASE | re.DOTALL)
_DELIMITED = re.compile(r'"""(.+?)"""|```[\w-]*\n?(.+?)```|<<<(.+?)>>>|["\u201c]([^"\u201d\n]{40,})["\u201d]',
                        re.DOTALL)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_CLAUSE_BREAK = re.compile(r"[,;:]\s+|\s+-+\s+")
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


@dataclass(frozen=True)
class PromptKind:
    """Whether a prompt carries context, and the rule that decided it (for a reason shown to users)."""

    is_context: bool
    reason: str


def classify_prompt(text: str) -> PromptKind:
    """Context or instructions only, for one system or developer message (see the module docstring)."""
    for rule in (_labelled_block, _tagged_block, _delimited_passage):
        if found := rule(text):
            return PromptKind(True, found)
    words = sum(len(_content_words(s)) for s in _sentences(text) if is_statement(s))
    if words >= MIN_FACT_WORDS:
        return PromptKind(True, f"{words} words of statements beyond the instructions")
    return PromptKind(False, "instructions only")


def is_statement(sentence: str) -> bool:
    """A sentence that says something about the world: not addressed to the model, not about the
    exchange, not a question, and long enough to state a fact."""
    if sentence.rstrip().endswith("?") or len(_content_words(sentence)) < MIN_STATEMENT_WORDS:
        return False
    return not _directs(sentence)


def _directs(sentence: str) -> bool:
    """Addressed to the model, about the exchange itself, or an imperative."""
    words = _WORD.findall(sentence.lower())
    return bool(ADDRESS.intersection(words) or META.intersection(words) or _instructs(sentence))


def _instructs(sentence: str) -> bool:
    """Some clause starts with an imperative: "Always cite…", "If unsure, say so", "Otherwise, escalate"."""
    for clause in _CLAUSE_BREAK.split(sentence):
        words = _WORD.findall(clause.lower())
        if words and (words[0] in IMPERATIVES or (words[0] == "otherwise" and len(words) > 1
                                                    and words[1] in IMPERATIVES)):
            return True
    return False


def _labelled_block(text: str) -> str:
    for match in _LABEL_LINE.finditer(text):
        rest = text[match.end():]
        following = _NEXT_SECTION.search(rest, 1)
        if _has_content(rest[: following.start() if following else len(rest)]):
            return f'a labelled block "{match.group(1).strip()}"'
    return ""


def _tagged_block(text: str) -> str:
    for match in _TAG.finditer(text):
        if _has_content(match.group(2)):
            return f"a <{match.group(1).lower()}> block"
    return ""


def _has_content(body: str) -> bool:
    """A block body with words in it that are not all instructions ("Sources: always cite them" is a rule)."""
    if len(_WORD.findall(body.lower())) < MIN_BLOCK_WORDS:
        return False
    return not all(_directs(sentence) for sentence in _sentences(body))


def _delimited_passage(text: str) -> str:
    for match in _DELIMITED.finditer(text):
        passage = next(group for group in match.groups() if group is not None)
        if len(_WORD.findall(passage.lower())) >= MIN_PASSAGE_WORDS and any(map(is_statement, _sentences(passage))):
            return "a delimited passage"
    return ""


def _sentences(text: str) -> list[str]:
    return [s.strip(" \t-*•#>[]") for s in _SENTENCE_END.split(text) if s.strip(" \t-*•#>[]")]


def _content_words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in _FUNCTION_WORDS]
