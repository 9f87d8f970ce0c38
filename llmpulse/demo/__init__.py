"""`llmpulse demo`: realistic LLM traffic, planned without I/O and then sent through the real
OpenTelemetry SDK.

`send` (run_demo: plans → spans → the OTLP exporter), `traffic` (plan_traces: which scenario runs
when, for which user and session), `scenarios` (what each kind of trace does), `calls` (one model
call as its spans), `conventions` (how each instrumentation names what a call carries), `models`
(models, versions, services: who sends) and `content` (knowledge base, chats, tasks: what is said).
"""
