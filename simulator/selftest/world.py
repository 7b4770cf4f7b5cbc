"""The scenario configs (``configs/incident.toml``, ``incident-quiet.toml``, ``aa.toml``)
redirected into a work folder, and the tiny world they replay.

Scenario runs never touch the repository's ``datasets/store``, ``workloads`` or
``results``: the generation, workload and run folders all go under the work folder, so a
self-test works on a fresh installation and leaves nothing behind but that folder.
"""

from __future__ import annotations

import copy
import fcntl
import re
import tomllib
from pathlib import Path
from typing import Any

from simulator.config import RunConfig, parse_config
from simulator.errors import ConfigError, RunError
from simulator.runner.inputs import resolve_generation, resolve_workload
from simulator.workload.store import Workload

CONFIGS_DIR = Path(__file__).resolve().parents[2] / "configs"
WINDOW_RE = re.compile(r"BETWEEN\s+'([0-9-]+)'\s+AND\s+'([0-9-]+)'", re.IGNORECASE)
INCIDENT_PIPELINE = "daily_activity"
SELECTS_PER_TENANT = 2


def scenario_data(name: str, work: Path) -> dict[str, Any]:
    """``configs/<name>.toml`` as a dict, with its store, workloads and results under
    ``work``. Raises ConfigError (one line) when the file is missing or not TOML."""
    path = CONFIGS_DIR / f"{name}.toml"
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: scenario config missing from this installation") from None
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise ConfigError(f"{path}: unreadable scenario config ({err})") from None
    data = copy.deepcopy(data)
    data.setdefault("dataset", {})["store"] = str(work / "store")
    data.setdefault("workload", {})["dir"] = str(work / "workloads")
    data.setdefault("run", {})["results_dir"] = str(work / "results")
    data["run"]["bank"] = False
    return data


def with_candidates(data: dict[str, Any], candidates: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``data`` whose candidates are exactly ``candidates`` (name -> engine table)."""
    data = copy.deepcopy(data)
    baseline = data["run"]["baseline"]
    data["engines"] = {baseline: data["engines"][baseline], **copy.deepcopy(candidates)}
    data["run"]["candidates"] = list(candidates)
    return data


def to_config(data: dict[str, Any], name: str) -> RunConfig:
    """A validated RunConfig from a scenario dict (messages name ``configs/<name>.toml``)."""
    return parse_config(data, str(CONFIGS_DIR / f"{name}.toml"))


def build_world(cfg: RunConfig) -> Workload:
    """Generate the scenario generation and sample its workload once per work folder (under
    a file lock, so concurrent scenario runs share them); returns the workload."""
    store = Path(cfg.dataset.store)
    store.mkdir(parents=True, exist_ok=True)
    with open(store.parent / ".world.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return resolve_workload(cfg, resolve_generation(cfg))


def incident_query_ids(workload: Workload) -> list[str]:
    """The statements the incident scenario replays: per tenant, its first
    ``daily_activity`` pipeline whose CTAS spans several days (so its DELETE removes whole
    old partitions), plus a few standalone SELECTs as concurrent read traffic.

    Raises RunError when no tenant has such a pipeline (the workload cannot show the bug).
    """
    by_pipeline: dict[str, list[Any]] = {}
    for query in workload.queries:
        if query.pipeline.split(":", 1)[-1].startswith(INCIDENT_PIPELINE):
            by_pipeline.setdefault(query.pipeline, []).append(query)
    chosen: dict[str, list[str]] = {}
    for pipeline in sorted(by_pipeline):
        statements = sorted(by_pipeline[pipeline], key=lambda q: q.seq)
        tenant = statements[0].tenant
        ctas = [q for q in statements if q.kind == "ctas"]
        window = WINDOW_RE.search(ctas[0].sql) if ctas else None
        if tenant in chosen or window is None or window.group(1) >= window.group(2):
            continue
        chosen[tenant] = [q.query_id for q in statements]
    if not chosen:
        raise RunError(
            f"workload {workload.name}: no {INCIDENT_PIPELINE} pipeline whose CTAS spans "
            "several days; the incident scenario needs one"
        )
    selects: dict[str, int] = {}
    for query in workload.queries:
        wanted = query.tenant in chosen and query.kind == "select" and not query.pipeline
        if wanted and selects.get(query.tenant, 0) < SELECTS_PER_TENANT:
            selects[query.tenant] = selects.get(query.tenant, 0) + 1
            chosen[query.tenant].append(query.query_id)
    return [query_id for tenant in sorted(chosen) for query_id in chosen[tenant]]
