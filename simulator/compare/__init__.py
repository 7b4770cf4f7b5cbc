"""Comparison: canonical hashing, result and write comparison, determinism, performance."""
