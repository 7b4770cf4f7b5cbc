"""The run folder contract between runner, compare and report.

One package owns what a run leaves on disk (``results/<run_id>/``) and the typed values in
it: :mod:`~simulator.results.layout` names every file of the folder,
:mod:`~simulator.results.execution` is the execution record (one statement run once on one
engine), :mod:`~simulator.results.verdicts` the correctness and performance verdicts,
:mod:`~simulator.results.meta` the run metadata (``run.json``),
:mod:`~simulator.results.store` the durable writer (fsync'd append-only JSONL) and
:mod:`~simulator.results.reader` the reader the report stage uses. Every other package
reads and writes run folders through these modules; none spells a file name itself.
"""
