"""Which instrumentation scopes are GenAI instrumentations, and which span-name operations are calls.

A span that carries no GenAI attribute is still a call when both say so (collector/span_names.py);
kept apart from the convention table because it is read only for such spans, and grows with every
instrumentation library rather than with every convention.
"""

from __future__ import annotations

from schemas import fields as f

# A span with no GenAI attribute at all (OpenLIT 1.45 sends a failed Anthropic call so: only its
# name, its scope, an `exception` event and an error status — corpus notes) is still a call when a
# GenAI instrumentation made it (scope prefix) and its name is the OTel GenAI span name
# `{operation} {model}` with one of these operations. The provider is the prefix's, or else the
# scope's next dotted segment when that names a known provider (`openlit.instrumentation.anthropic`).
NAMED_CALL_OPERATIONS: dict[str, str] = {
    "chat": f.TYPE_LLM, "text_completion": f.TYPE_LLM, "generate_content": f.TYPE_LLM, "embeddings": f.TYPE_EMBEDDING,
}
GENAI_SCOPES: tuple[tuple[str, str], ...] = (
    ("openlit.instrumentation.", ""), ("openinference.instrumentation.", ""), ("traceloop.", ""),
    ("opentelemetry.util.genai", ""), ("opentelemetry.instrumentation.openai", "openai"),
    ("opentelemetry.instrumentation.anthropic", "anthropic"), ("opentelemetry.instrumentation.bedrock", "aws.bedrock"),
    ("opentelemetry.instrumentation.google_genai", "gcp.gen_ai"),
    ("opentelemetry.instrumentation.google_generativeai", "gcp.gemini"),
    ("opentelemetry.instrumentation.vertexai", "gcp.vertex_ai"),
    ("opentelemetry.instrumentation.mistralai", "mistral_ai"), ("opentelemetry.instrumentation.cohere", "cohere"),
    ("opentelemetry.instrumentation.groq", "groq"), ("opentelemetry.instrumentation.ollama", "ollama"),
    ("opentelemetry.instrumentation.langchain", ""), ("opentelemetry.instrumentation.llamaindex", ""),
)
