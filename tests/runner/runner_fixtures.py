"""Helpers for runner tests: one tiny generation + workload shared by every test of a
session (built once under a file lock, so xdist workers share it), run configs written as
real TOML files, and a scan of /proc for processes a run left behind."""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from simulator.config import load_config
from simulator.runner.inputs import resolve_generation, resolve_workload

DUCKDB_OLD = "1.1.3"
DUCKDB_NEW = "2.0.1"
TINY = {"scale": 0.001, "tenants": 2, "rows": 300, "budget": 24}
# Keys written as [a.b] sub-tables rather than inline tables.
SUBTABLES = ("generate", "synth", "sample", "faults", "latency", "lost_writes")


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {value!r} as TOML")


def to_toml(data: dict[str, Any], prefix: str = "") -> str:
    """A small TOML writer for run configs: tables of scalars, lists and inline tables."""
    lines: list[str] = []
    nested: list[tuple[str, dict[str, Any]]] = []
    for key, value in data.items():
        if isinstance(value, dict) and (not prefix or key in SUBTABLES):
            nested.append((key, value))
        else:
            lines.append(f"{key} = {_toml_value(value)}")
    out = "\n".join(lines) + ("\n" if lines else "")
    for key, value in nested:
        name = f"{prefix}.{key}" if prefix else key
        if prefix == "" and key == "engines":
            for engine, spec in value.items():
                out += f"\n[engines.{engine}]\n" + to_toml(spec, f"engines.{engine}")
            continue
        out += f"\n[{name}]\n" + to_toml(value, name)
    return out


def duckdb_engine(version: str, **extra: Any) -> dict[str, Any]:
    """An ``[engines.X]`` table for a real DuckDB release."""
    return {
        "adapter": "duckdb",
        "requirements": [f"duckdb=={version}"],
        "dialect": "duckdb",
        "version": version,
        "settings": {"threads": 1},
        **extra,
    }


def config_data(world: Path, results: Path, **sections: Any) -> dict[str, Any]:
    """A run config over the shared tiny world; ``sections`` replace or extend tables."""
    data: dict[str, Any] = {
        "run": {
            "name": "t",
            "results_dir": str(results),
            "baseline": "base",
            "candidates": ["cand"],
            "bank": False,
        },
        "dataset": {
            "generation": "tiny",
            "store": str(world / "store"),
            "generate": {
                "name": "tiny",
                "scale": TINY["scale"],
                "seed": 42,
                "tenants": TINY["tenants"],
            },
        },
        "workload": {
            "name": "tiny",
            "dir": str(world / "workloads"),
            "synth": {"rows": TINY["rows"], "seed": 7},
            "sample": {"budget": TINY["budget"], "seed": 7},
        },
        "engines": {"base": duckdb_engine(DUCKDB_OLD), "cand": duckdb_engine(DUCKDB_NEW)},
        "load": {"mode": "closed", "concurrency": 2},
        "perf": {"enabled": True, "repetitions": 3, "max_repetitions": 4, "max_patterns": 2},
    }
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return data


def write_config(path: Path, world: Path, results: Path, **sections: Any) -> Path:
    """Write a run config TOML to ``path`` and return it."""
    path.write_text(to_toml(config_data(world, results, **sections)))
    return path


def world_root(basetemp: Path) -> Path:
    """Where the tiny world lives: beside the session's temp folders (shared by xdist
    workers), keyed by the world parameters and the code that builds it."""
    digest = hashlib.sha256(json.dumps(TINY, sort_keys=True).encode())
    package = Path(__file__).resolve().parents[2] / "simulator"
    for folder in ("datasets", "workload"):
        for source in sorted((package / folder).rglob("*.py")):
            digest.update(source.read_bytes())
    shared = basetemp.parent if basetemp.name.startswith("popen-gw") else basetemp
    return shared / f"qsim-runner-world-{digest.hexdigest()[:12]}"


def build_world(root: Path) -> Path:
    """Build (once, under a lock) the tiny generation and workload under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = root / ".built"
        if not done.exists():
            cfg = load_config(write_config(root / "world.toml", root, root / "results"))
            resolve_workload(cfg, resolve_generation(cfg))
            done.touch()
    return root


def run_processes(run_id: str) -> list[int]:
    """Pids of live processes (other than this one) of the run: those carrying
    ``QSIM_RUN_ID=run_id`` and the run's reaper."""
    needles = (f"QSIM_RUN_ID={run_id}\0".encode(), f"QSIM_REAPER_FOR={run_id}\0".encode())
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().split()[2]
        except OSError:
            continue
        if any(n in environ for n in needles) and state != "Z":
            found.append(int(entry.name))
    return found


def wait_no_processes(run_id: str, timeout_s: float = 15.0) -> list[int]:
    """Wait until no process of the run is left; return those still alive at the timeout."""
    deadline = time.monotonic() + timeout_s
    left = run_processes(run_id)
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = run_processes(run_id)
    return left


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every JSON line of a record file."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


class FakeFullDisk:
    """Stands in for a disk that fills up during a run (a fault a test cannot cause for
    real without root): the first ``allow`` writes of the run store pass, then every
    write fails with ENOSPC after writing half of its bytes, as a short write would."""

    def __init__(self, real: Any, allow: int) -> None:
        self.real = real
        self.allow = allow
        self.refused = 0

    def __call__(self, fd: int, data: bytes) -> None:
        if self.allow > 0:
            self.allow -= 1
            self.real(fd, data)
            return
        self.refused += 1
        os.write(fd, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny generation + workload, shared by all xdist workers of the session."""
    return build_world(world_root(tmp_path_factory.getbasetemp()))
