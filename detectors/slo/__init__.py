"""Service level objectives: SLI definitions, error budgets and multi-window burn-rate alerts."""
