"""Fixtures of the results tests: a results folder in tmp_path and a run-folder writer
(both from tests/results/run_folders.py)."""

from run_folders import make_run, results

__all__ = ["make_run", "results"]
