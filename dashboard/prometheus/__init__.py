"""`GET /metrics` on the UI port: llmpulse's figures for Prometheus, from the rollups and what the
detectors and collectors last recorded, never from raw spans (see sources.py for the families)."""
