"""Fixtures for runner tests: the shared tiny world (tests/runner/runner_fixtures.py)."""

from runner_fixtures import world

__all__ = ["world"]
