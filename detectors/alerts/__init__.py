"""Alerting, from a rule's definition to an action on its incident.

Pure, without I/O (covered by unit tests): `rules` (what a rule is, its checks), `budget_rules`
(what a budget is, its period and forecast arithmetic), `incidents` (the incident state machine),
`channels` (what a notification channel is), `guard_rules` and `guard_status` (guards, the
circuit breaker: spec, states, the answer from a snapshot). With I/O: `budget_spend` (where a
budget stands, from ClickHouse spend), `detector` (the alerts detector: evaluates every rule and
budget on a schedule, moves incidents, queues notifications; `guard_eval` is its guards' part) and
`service` (what the API and the Alerts page do to alerts: acknowledge, silence, test a channel,
delete one). The stores are `schemas.metadata.alert_store`, `schemas.metadata.guard_store` and
`schemas.metadata.alert_tables`; the notifiers are `detectors.notify`.
"""
