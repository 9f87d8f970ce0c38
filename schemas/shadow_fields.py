"""The span attribute that marks a shadow call, and what the read side calls its modes.

In shadow mode an app sends the same input to a candidate model and keeps the candidate's answer
from its user; the candidate's span, in the same trace, carries `llmpulse.shadow_of` = the span
id (16 hex characters) of the primary call. Normalization stores it in the `shadow_of` column
(lower-cased; anything else than a span id, or the span's own id, is refused and named in
`llmpulse.refused`, the span kept as an ordinary call).

A shadow call costs money but is no user request: spend counts it; requests, errors, latency,
TTFT, cache hits, users and the hallucination rate do not, unless a read asks for
`shadow=include` (every call) or `shadow=only` (the candidates alone).
"""

from __future__ import annotations

SHADOW_OF_ATTRIBUTE = "llmpulse.shadow_of"
SPAN_ID_LENGTH = 16

# The `shadow=` argument of the reads. SPLIT, the default, is no filter: spend over every call,
# the per-request figures over the app's own calls only.
SHADOW_SPLIT = "split"
SHADOW_EXCLUDE = "exclude"
SHADOW_INCLUDE = "include"
SHADOW_ONLY = "only"
SHADOW_MODES = (SHADOW_SPLIT, SHADOW_EXCLUDE, SHADOW_INCLUDE, SHADOW_ONLY)
