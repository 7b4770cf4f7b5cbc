"""Runner: Ray orchestration of tenant sessions, load models, durable results, resume.

Entry point: :func:`simulator.runner.run.execute_run` (``qsim run``) returns a
:class:`~simulator.runner.run.RunOutcome` (``run_dir``, ``status``, ``exit_code``,
``verdict_counts`` and ``perf_counts`` per candidate, ``summary``).

Modules, in the order a run uses them: ``inputs`` (build a missing demo generation and
workload), ``prepare`` (filters, checks, per-engine statements), ``results.store`` (the run folder:
run.json, fsync'd JSONL records, resume compaction), ``cluster`` and ``reaper`` (Ray
lifecycle; nothing outlives the driver), ``session`` (one Ray actor per tenant owning its
engine workers and workspaces), ``execute`` (one statement -> one ``Execution`` with
checksums and write post-states), ``schedule`` (closed/open load models), ``inflight`` (the
in-flight count fault injection sees), ``bank`` (baseline reuse across runs), ``perf`` (the
isolated ABBA performance phase), ``summary`` (the printed summary and exit code), and
``confirm`` (quiet replay of findings, used by the selftest).
"""
