"""The errors a user can cause. Each carries a one-line message naming the file, key, row
or engine at fault; the CLI prints that line and exits with code 2.

Engine errors during replay are not raised: they are recorded data and become verdicts.
"""

from __future__ import annotations


class QsimError(Exception):
    """Base of every user-facing error. ``str(err)`` is the one line shown to the user."""

    exit_code = 2


class ConfigError(QsimError):
    """A run configuration is malformed: unknown key, wrong type, missing engine, bad path."""


class DatasetError(QsimError):
    """A generation is missing, corrupt, or cannot be written."""


class WorkloadError(QsimError):
    """A query log or workload cannot be read or written."""


class EngineError(QsimError):
    """An engine cannot be set up: unknown adapter, uninstallable requirement, no server."""


class RunError(QsimError):
    """A run cannot start or resume: missing run folder, inconsistent state, full disk."""


class ReportError(QsimError):
    """A report, history or accept command cannot do what was asked."""
