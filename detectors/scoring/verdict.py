"""What the groundedness scorer answers, importable without scikit-learn (see `detectors.worker`)."""

from __future__ import annotations

from dataclasses import dataclass

GROUNDED, HALLUCINATED, UNKNOWN = "grounded", "hallucinated", "unknown"


@dataclass(frozen=True)
class ClaimSupport:
    text: str
    support: float  # 0..1, 1 = the context says the same thing
    best_evidence: str


@dataclass(frozen=True)
class Groundedness:
    score: float  # 0..1, 1 = fully supported
    label: str  # GROUNDED | HALLUCINATED | UNKNOWN
    reason: str
    claims: tuple[ClaimSupport, ...]
