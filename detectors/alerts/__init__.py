"""Alerting logic without I/O: rules (`rules`), the incident state machine (`incidents`) and budgets
(`budget`). The HTTP, storage and notifier layers call into these; nothing here opens a
connection, so the whole behaviour is covered by unit tests.
"""
