"""Workloads: ingest query logs, classify and fingerprint statements, sample, transpile.

Public entry points (each module holds one idea; see their docstrings):

- ``ingest.ingest_log(path, workloads_dir, name, fmt=None, mapping=None) -> IngestResult``
- ``sample.sample_workload(workloads_dir, log_name, name, SampleParams) -> Workload``
- ``store.load_workload(workloads_dir, name) -> Workload`` (``WorkloadQuery`` rows)
- ``transpile.transpile(sql, read_dialect, engine, tenant="") -> Transpiled``
- ``synth.synthesize_log(generation, rows, seed, out, tenants=None, days=None)``
- ``fingerprint.Analyzer().analyze(sql, dialect) -> Analysis(pattern_id, classification)``
"""

from simulator.workload.store import Workload, WorkloadQuery, load_workload
from simulator.workload.transpile import Transpiled, transpile

__all__ = ["Transpiled", "Workload", "WorkloadQuery", "load_workload", "transpile"]
