"""Experiments over golden datasets: scoring answers, running a dataset against a target,
reading app-run results back from spans, summaries and the paired comparison behind the CI gate."""
