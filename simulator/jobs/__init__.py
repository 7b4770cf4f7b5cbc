"""Jobs: what a user asks qsim to do end to end, built from the runner and the report.

:mod:`~simulator.jobs.run_report` runs a config and writes its report (``qsim run``),
:mod:`~simulator.jobs.nightly` adds the history comparison and the gate (``qsim nightly``),
:mod:`~simulator.jobs.replay` replays one tenant, pattern or query now (``qsim replay``),
and :mod:`~simulator.jobs.candidates` applies ``--candidate`` overrides to a config. This
is the only package that imports both the runner and the report stage: the runner never
imports the report, and nothing under report/ starts a run.
"""
