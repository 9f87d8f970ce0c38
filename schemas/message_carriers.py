"""Where a span's messages are carried, generation by generation of the conventions: as data.

OTel GenAI moved content from span events (≤1.27) to per-message events or log records (1.28 to 1.36)
to parts-based attributes (≥1.37); OpenLLMetry and OpenInference flatten it into indexed
attributes; Vercel and Langfuse send JSON. `collector.messages` reads the first carrier that
yields messages, in the order given here.
"""

from __future__ import annotations

from schemas import fields as f

# Message content carriers, in precedence order: the first that yields messages wins.
# Kinds: "parts" (OTel ≥1.37 parts-based JSON), "events" (span events, OTel ≤1.36),
# "indexed" (flattened `prefix.{i}.…` attributes), "json" (a JSON or plain-text payload).
PARTS_INPUT = "gen_ai.input.messages"
PARTS_OUTPUT = "gen_ai.output.messages"
SYSTEM_INSTRUCTIONS = "gen_ai.system_instructions"
INPUT_CARRIERS: tuple[tuple[str, str], ...] = (
    ("parts", PARTS_INPUT), ("events", "input"), ("indexed", "gen_ai.prompt."),
    ("indexed", "llm.input_messages."), ("json", "ai.prompt.messages"), ("json", "ai.prompt"),
    ("json", "langfuse.observation.input"), ("json", "traceloop.entity.input"), ("json", "input.value"),
)
OUTPUT_CARRIERS: tuple[tuple[str, str], ...] = (
    ("parts", PARTS_OUTPUT), ("events", "output"), ("indexed", "gen_ai.completion."),
    ("indexed", "llm.output_messages."), ("vercel", "ai.response.text"),
    ("vercel", "ai.response.toolCalls"), ("json", "ai.response.object"),
    ("json", "langfuse.observation.output"), ("json", "traceloop.entity.output"), ("json", "output.value"),
)
INDEXED_PREFIXES = ("gen_ai.prompt.", "gen_ai.completion.", "llm.input_messages.", "llm.output_messages.",
                    "retrieval.documents.")
NO_OUTPUT_CONTENT_TYPES = frozenset({f.TYPE_EMBEDDING})  # an embedding's "output" is a vector dump
VERCEL_TOOL_CALLS = "ai.response.toolCalls"
VERCEL_RESPONSE_TEXT = "ai.response.text"
EVENT_CONTENT = "gen_ai.event.content"  # some emitters put a message event's body here, as JSON

# Message events (span events or OTLP log records) → (side, role).
MESSAGE_EVENTS: dict[str, tuple[str, str]] = {
    "gen_ai.system.message": ("input", "system"), "gen_ai.user.message": ("input", "user"),
    "gen_ai.assistant.message": ("input", "assistant"), "gen_ai.tool.message": ("input", "tool"),
    "gen_ai.choice": ("output", "assistant"),
}
# ≤v1.27 span events holding a whole JSON message list in one attribute.
CONTENT_EVENTS: dict[str, tuple[str, str]] = {
    "gen_ai.content.prompt": ("input", "gen_ai.prompt"),
    "gen_ai.content.completion": ("output", "gen_ai.completion"),
}
OPERATION_DETAILS_EVENT = "gen_ai.client.inference.operation.details"
