"""Who sends the demo's traffic: the models (and the versions a provider serves behind a name),
the services and environments, the users.

Tables, so a new model or service is one more row, not one more branch.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelVersion:
    """What the provider actually served behind a requested model name."""

    response_model: str
    fingerprint: str | None = None
    verbose: bool = False  # answers grow a chatty tail (the silent behaviour shift)
    latency_factor: float = 1.0


@dataclass(frozen=True)
class ModelSpec:
    name: str
    provider: str  # OTel `gen_ai.provider.name`
    host: str
    ttft_ms: float
    ms_per_token: float
    versions: tuple[ModelVersion, ...]  # [0] before the demo window's midpoint, [-1] after


def _one(response_model: str, fingerprint: str | None = None) -> tuple[ModelVersion, ...]:
    return (ModelVersion(response_model, fingerprint),)


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec("gpt-4o", "openai", "api.openai.com", 420, 11, _one("gpt-4o-2024-08-06", "fp_a7d06e42a7")),
        ModelSpec(
            "gpt-4o-mini",
            "openai",
            "api.openai.com",
            320,
            7,
            (
                ModelVersion("gpt-4o-mini-2024-07-18", "fp_0ba0d124f1"),
                ModelVersion("gpt-4o-mini-2025-01-31", "fp_e4a9c27b5d", verbose=True, latency_factor=1.4),
            ),
        ),
        ModelSpec(
            "gpt-4.1-mini",
            "openai",
            "api.openai.com",
            360,
            8,
            _one("gpt-4.1-mini-2025-04-14", "fp_6f2eabb9a5"),
        ),
        ModelSpec("gpt-4.1-nano", "openai", "api.openai.com", 240, 4, _one("gpt-4.1-nano-2025-04-14", "fp_38343a2f8f")),
        ModelSpec("text-embedding-3-small", "openai", "api.openai.com", 0, 0, _one("text-embedding-3-small")),
        ModelSpec("claude-sonnet-4-5", "anthropic", "api.anthropic.com", 850, 16, _one("claude-sonnet-4-5-20250929")),
        ModelSpec("claude-haiku-4-5", "anthropic", "api.anthropic.com", 420, 6, _one("claude-haiku-4-5-20251001")),
        ModelSpec(
            "gemini-2.5-flash",
            "gcp.gemini",
            "generativelanguage.googleapis.com",
            480,
            4,
            _one("gemini-2.5-flash"),
        ),
    )
}

DRIFTING_MODEL = "gpt-4o-mini"

# Appended to answers by the model version that changed silently: longer, chattier output.
VERBOSE_TAILS = (
    " I hope this helps! If you have any other questions about your account, billing or anything "
    "else, feel free to ask and I will be happy to walk you through it step by step.",
    " Let me know if there is anything else I can do for you today. It is always a pleasure to help, "
    "and you can reach out at any time if something is still unclear.",
    " Please don't hesitate to get back in touch if you need more details. I'm here to help with any "
    "follow-up questions you might have about this or related topics.",
)

SERVICES = {
    # service.name → (service.version, telemetry.sdk.language)
    "support-bot": ("2.14.0", "python"),
    "search-api": ("1.9.3", "nodejs"),
    "agent-worker": ("0.7.1", "python"),
}
ENVIRONMENTS = (("prod", 0.85), ("staging", 0.15))

USER_COUNT = 48
