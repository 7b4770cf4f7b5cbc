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
# The opt-in pipeline whose written table (stage_events) is as large as a tenant's events.
LARGE_WRITE_PIPELINE = "events_rewrite"
LARGE_WRITE_TABLE = "stage_events"
SELECTS_PER_TENANT = 2
MAX_SCALE = 100.0


def check_scale(scale: float) -> float:
    """``scale`` when it is a usable generation scale (0 < scale <= 100), else ConfigError."""
    if not 0 < scale <= MAX_SCALE:
        raise ConfigError(
            f"--scale: must be a number above 0 and at most {MAX_SCALE:g} "
            f"(1 = 10M rows), got {scale:g}"
        )
    return scale


def scenario_data(name: str, work: Path, scale: float | None = None) -> dict[str, Any]:
    """``configs/<name>.toml`` as a dict, with its store, workloads and results under
    ``work``. With ``scale`` the world is generated at that scale instead, its generation
    and workload named after it (worlds of two scales never mix in one work folder), and
    the workload has the large-write pipeline (``[workload.synth] large_writes``). Raises
    ConfigError (one line) when the file is missing or not TOML, or the scale is unusable."""
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
    if scale is not None:
        tag = f"s{check_scale(scale):g}"
        generate = data["dataset"].setdefault("generate", {})
        generate["scale"] = scale
        generate["name"] = data["dataset"]["generation"] = f"{generate['name']}-{tag}"
        data["workload"]["name"] = f"{data['workload']['name']}-{tag}"
        data["workload"].setdefault("synth", {})["large_writes"] = True
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
    old partitions) and its first ``events_rewrite`` pipeline (the large-write pipeline,
    whose CTAS spans every day), plus a few standalone SELECTs as concurrent read traffic.

    Raises RunError when no tenant has such a pipeline (the workload cannot show the bug).
    """
    by_pipeline: dict[str, list[Any]] = {}
    for query in workload.queries:
        name = query.pipeline.split(":", 1)[-1]
        if name.startswith((INCIDENT_PIPELINE, LARGE_WRITE_PIPELINE)):
            by_pipeline.setdefault(query.pipeline, []).append(query)
    chosen: dict[str, list[str]] = {}
    rewrites: dict[str, list[str]] = {}
    for pipeline in sorted(by_pipeline):
        statements = sorted(by_pipeline[pipeline], key=lambda q: q.seq)
        tenant = statements[0].tenant
        if pipeline.split(":", 1)[-1].startswith(LARGE_WRITE_PIPELINE):
            rewrites.setdefault(tenant, [q.query_id for q in statements])
            continue
        ctas = [q for q in statements if q.kind == "ctas"]
        window = WINDOW_RE.search(ctas[0].sql) if ctas else None
        if tenant in chosen or window is None or window.group(1) >= window.group(2):
            continue
        chosen[tenant] = [q.query_id for q in statements]
    for tenant, statements in rewrites.items():
        chosen.setdefault(tenant, []).extend(statements)
    if not chosen:
        raise RunError(
            f"workload {workload.name}: no {INCIDENT_PIPELINE} pipeline whose CTAS spans "
            f"several days and no {LARGE_WRITE_PIPELINE} pipeline; the incident scenario "
            "needs one"
        )
    selects: dict[str, int] = {}
    for query in workload.queries:
        wanted = query.tenant in chosen and query.kind == "select" and not query.pipeline
        if wanted and selects.get(query.tenant, 0) < SELECTS_PER_TENANT:
            selects[query.tenant] = selects.get(query.tenant, 0) + 1
            chosen[query.tenant].append(query.query_id)
    return [query_id for tenant in sorted(chosen) for query_id in chosen[tenant]]
