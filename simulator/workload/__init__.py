"""Workloads: ingest query logs, classify and fingerprint statements, sample, transpile."""
