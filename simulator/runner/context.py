"""What every phase of one run shares: the config, the open run folder and the inputs.

A :class:`RunContext` is made once, when the run folder is created
(:func:`simulator.runner.start.start_run`) or reopened
(:func:`simulator.runner.resume.open_for_resume`), and handed to each phase.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simulator.config import RunConfig
from simulator.datasets.store import Generation
from simulator.results.store import RunStore
from simulator.runner.execute import Statement
from simulator.workload.store import WorkloadQuery


@dataclass
class RunContext:
    """The inputs of one run.

    ``queries`` maps a tenant to its sampled statements in log order; ``runtimes`` the
    engine name to its isolated runtime. ``statements`` (tenant -> engine -> statements,
    transpiled for each engine) is filled when the replay starts, since building it can
    refuse bad input and that must be recorded as a failed run.
    """

    cfg: RunConfig
    run_id: str
    store: RunStore
    generation: Generation
    queries: dict[str, list[WorkloadQuery]]
    runtimes: dict[str, Any]
    fresh_baseline: bool
    statements: dict[str, dict[str, list[Statement]]] = field(default_factory=dict)

    @property
    def baseline(self) -> str:
        return self.cfg.run.baseline

    @property
    def candidates(self) -> list[str]:
        return list(self.cfg.run.candidates)

    @property
    def engines(self) -> list[str]:
        """The baseline, then the candidates."""
        return [self.baseline, *self.candidates]

    @property
    def results_dir(self) -> Path:
        """Absolute: engine workers run with their workspace as current directory."""
        return Path(self.cfg.run.results_dir).resolve()
