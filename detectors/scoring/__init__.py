"""Pure scorers behind the hallucination detector: offline groundedness, LLM-as-judge, rate intervals."""
