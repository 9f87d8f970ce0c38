"""The Dash UI: pages over the same query functions the JSON API serves."""
