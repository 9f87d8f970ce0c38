"""Provider names as the OTel GenAI conventions spell them, and the provider a model id implies.

Data, like the convention table it was split from: instrumentations name one provider many ways
(`azure_openai`, `az.ai.openai`, Vercel's dotted `openai.chat`), and Langfuse sends none at all,
so normalization resolves aliases here and, failing that, infers the provider from the model id.
"""

from __future__ import annotations

# Provider names → OTel `gen_ai.provider.name` values. Dotted vendor forms ("openai.chat",
# Vercel) resolve by their longest known dotted prefix.
PROVIDER_ALIASES: dict[str, str] = {
    "openai": "openai", "azure": "azure.ai.openai", "azure_openai": "azure.ai.openai",
    "azure-openai": "azure.ai.openai", "azure.ai.openai": "azure.ai.openai",
    "az.ai.openai": "azure.ai.openai", "azure.ai.inference": "azure.ai.inference",
    "anthropic": "anthropic", "google": "gcp.gemini", "gemini": "gcp.gemini",
    "google.generative-ai": "gcp.gemini", "gcp.gemini": "gcp.gemini", "google.vertex": "gcp.vertex_ai",
    "vertex": "gcp.vertex_ai", "vertex_ai": "gcp.vertex_ai", "vertexai": "gcp.vertex_ai",
    "gcp.vertex_ai": "gcp.vertex_ai", "gcp.gen_ai": "gcp.gen_ai", "aws": "aws.bedrock", "bedrock": "aws.bedrock",
    "amazon-bedrock": "aws.bedrock", "aws_bedrock": "aws.bedrock", "aws.bedrock": "aws.bedrock",
    "mistralai": "mistral_ai", "mistral": "mistral_ai", "mistral_ai": "mistral_ai",
    "xai": "x_ai", "x_ai": "x_ai", "cohere": "cohere", "groq": "groq", "deepseek": "deepseek",
    "perplexity": "perplexity", "ollama": "ollama", "watsonx": "ibm.watsonx.ai",
    "ibm.watsonx.ai": "ibm.watsonx.ai", "googleai": "gcp.gemini",
    # Google ADK names itself in gen_ai.system, not the provider: the model says who served it.
    "gcp.vertex.agent": "",
}
# When no provider attribute exists (Langfuse never sends one — corpus), infer it from the model.
# Bedrock model ids come first: `[region.]vendor.model` (`us.anthropic.claude-…-v2:0`), which
# genai-prices prices as Bedrock, not as the vendor's own API.
BEDROCK = "aws.bedrock"
BEDROCK_REGIONS = ("us.", "eu.", "apac.", "us-gov.", "global.", "jp.", "au.", "ca.")
BEDROCK_VENDORS = (
    "anthropic.", "amazon.", "meta.", "mistral.", "cohere.", "ai21.", "deepseek.", "qwen.", "openai.",
    "writer.", "stability.", "twelvelabs.",
)
MODEL_PROVIDER_PREFIXES: tuple[tuple[str, str], ...] = (
    ("gpt-", "openai"), ("chatgpt-", "openai"), ("text-embedding-", "openai"), ("o1", "openai"),
    ("o3", "openai"), ("o4", "openai"), ("davinci", "openai"), ("claude", "anthropic"),
    ("gemini", "gcp.gemini"), ("mistral", "mistral_ai"), ("codestral", "mistral_ai"),
    ("command", "cohere"), ("deepseek", "deepseek"), ("grok", "x_ai"),
)
