"""Fixtures of the jobs tests: a results folder in tmp_path and a run-folder writer (from
tests/results/run_folders.py), and the runners' shared tiny world."""

from run_folders import make_run, results
from runner_fixtures import world

__all__ = ["make_run", "results", "world"]
