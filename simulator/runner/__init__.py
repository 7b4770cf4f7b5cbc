"""Runner: Ray orchestration of tenant sessions, load models, durable results, resume.

Entry point: :func:`simulator.runner.run.execute_run` returns a
:class:`~simulator.runner.run.RunOutcome` (``run_dir``, ``status``, ``exit_code``,
``verdict_counts`` and ``perf_counts`` per candidate, ``summary``). ``qsim run`` goes through
:mod:`simulator.jobs.run_report`, which adds the report; the runner never imports the report
stage. The run folder itself (records, run.json, file names) belongs to
:mod:`simulator.results`.

Modules, in the order a run uses them: ``run`` (the phase sequence), ``inputs`` (build a
missing demo generation and workload), ``start`` (a new run folder) or ``resume`` (reopen
one, keep its complete lanes), ``context`` (what the phases share), ``prepare`` (filters,
checks, per-engine statements), ``bank`` and ``bank_plan`` (baseline reuse across runs),
``cluster`` and ``reaper`` (Ray lifecycle; nothing outlives the driver), ``pool`` (the
tenants' Ray sessions), ``session`` (one Ray actor per tenant owning its engine workers and
workspaces), ``execute`` (one statement -> one ``Execution`` with checksums and write
post-states), ``schedule`` (closed/open load models), ``inflight`` (the in-flight count
fault injection sees), ``load`` (the load loop), ``recorder`` (persist, then judge what is
ready), ``perf`` (the isolated ABBA performance phase), ``confirm`` (quiet replay of
findings) and ``summary`` (the printed summary).
"""
