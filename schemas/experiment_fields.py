"""Span attributes that tie a span to an experiment and a dataset item.

The in-service runner sets them on every call it makes; an app running its own pipeline over a
dataset sets them on its spans (`llmpulse.evals` does it for the user), so both kinds of
experiment are read back the same way. Langfuse's SDK names the same facts `langfuse.experiment.*`;
those are read too, so an app instrumented for Langfuse experiments needs no change.
"""

from __future__ import annotations

# The deployment environment of the in-service runner's calls: production views can filter them
# out, and the drift detector does not read them as the model production is served.
EXPERIMENT_ENVIRONMENT = "experiment"
EXPERIMENT_NAME = "llmpulse.experiment.name"
DATASET_NAME = "llmpulse.dataset.name"
DATASET_VERSION = "llmpulse.dataset.version"
ITEM_ID = "llmpulse.dataset.item_id"
# The item's answer, on the span that opened the item (the pipeline's root span).
ITEM_OUTPUT = "llmpulse.experiment.output"

LANGFUSE_EXPERIMENT_NAME = "langfuse.experiment.name"
LANGFUSE_ITEM_ID = "langfuse.experiment.item.id"
LANGFUSE_ROOT_SPAN = "langfuse.experiment.item.root_observation_id"
LANGFUSE_OUTPUT = "langfuse.observation.output"

# Read in this order: our own name first, then the Langfuse one.
EXPERIMENT_KEYS = (EXPERIMENT_NAME, LANGFUSE_EXPERIMENT_NAME)
ITEM_KEYS = (ITEM_ID, LANGFUSE_ITEM_ID)
OUTPUT_KEYS = (ITEM_OUTPUT, LANGFUSE_OUTPUT, "output.value")
