"""Inputs a run can build for itself when they are missing: the demo generation and the
demo workload, so ``qsim run configs/demo.toml`` works on a fresh clone.

Only what the config explicitly describes is built: a generation named by
``dataset.generation`` is generated when it is missing **and** the config has a
``[dataset.generate]`` table with that name; a workload is synthesized (``[workload.synth]``)
or ingested from ``workload.log``, then sampled (``[workload.sample]``), when it is missing
and the config has such a table. Anything else missing is an error naming it, so a typo in
a config never silently builds a new world.
"""

from __future__ import annotations

from pathlib import Path

from simulator.config import RunConfig
from simulator.datasets.object_store import open_store
from simulator.datasets.store import Generation
from simulator.errors import DatasetError, WorkloadError
from simulator.workload.ingest import ingest_log
from simulator.workload.sample import sample_workload
from simulator.workload.store import Workload, load_workload, workload_dir
from simulator.workload.synth import synthesize_log


def resolve_generation(cfg: RunConfig) -> Generation:
    """The run's generation, generated first when missing and described by the config."""
    store = open_store(cfg.dataset.store, cfg.dataset.cache)
    try:
        return store.resolve(cfg.dataset.generation)
    except DatasetError:
        spec = cfg.dataset.generate
        explicit = "generate" in cfg.raw.get("dataset", {})
        if not explicit or spec.name != cfg.dataset.generation:
            raise
    return store.generate(spec.name, spec.scale, spec.seed, spec.tenants)


def resolve_workload(cfg: RunConfig, generation: Generation) -> Workload:
    """The run's workload, synthesized or ingested and sampled first when missing."""
    section = cfg.workload
    folder = workload_dir(section.dir, section.name)
    try:
        return load_workload(section.dir, section.name)
    except WorkloadError:
        raw = cfg.raw.get("workload", {})
        buildable = "synth" in raw or bool(section.log)
        if folder.exists() or not buildable:
            raise
    log_name = f"{section.name}-log"
    if section.log:
        source = Path(section.log)
        if not source.is_file():
            raise WorkloadError(f"{cfg.path}: workload.log: {source} does not exist")
    else:
        source = Path(section.dir) / "logs" / f"{section.name}.synth.jsonl"
        synthesize_log(
            generation,
            section.synth.rows,
            section.synth.seed,
            source,
            large_writes=section.synth.large_writes,
        )
    ingest_log(source, section.dir, log_name, mapping=section.ingest)
    return sample_workload(section.dir, log_name, section.name, section.sample)
