"""Runnable benchmark scripts: python -m benchmarks.bench_<area>."""
