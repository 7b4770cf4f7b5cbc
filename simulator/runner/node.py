"""What a tenant session finds on the Ray node it runs on: its generation's files, and
where its workspaces and engine runtimes live.

A session on the driver's node (or outside Ray) uses the driver's folders: workspaces in
the run folder, the driver's runtimes. A session on another node uses only that node's
own disk, so a cluster needs no shared file system: workspaces under
``$QSIM_WORKSPACES/<run id>`` (default ``<tmp>/qsim-workspaces/<run id>``), runtimes under
the node's ``$QSIM_RUNTIMES`` (built there on first use), and an object-store generation's
files in the node cache (:mod:`simulator.datasets.node_cache`). Records and kept results
go back to the driver as the return values of the session's calls, through Ray.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from simulator.datasets.manifest import MANIFEST_FILE, manifest_id
from simulator.datasets.node_cache import cache_root, fill_cache
from simulator.datasets.object_store import is_object_store, open_store
from simulator.datasets.store import Generation
from simulator.engines.runtime import default_root
from simulator.errors import DatasetError

WORKSPACES_ENV = "QSIM_WORKSPACES"


def node_id() -> str:
    """The Ray node id of this process ("" outside Ray)."""
    try:
        import ray

        if ray.is_initialized():
            return str(ray.get_runtime_context().get_node_id())
    except ImportError:
        pass
    return ""


@dataclass(frozen=True)
class NodeFolders:
    """A session's folders on its node; ``on_driver`` when that is the driver's node."""

    workspaces: Path
    runtimes: Path
    cache: Path
    on_driver: bool


def node_folders(
    run_id: str, driver_node: str, driver_workspaces: str, driver_runtimes: str, cache: str
) -> NodeFolders:
    """The folders a session uses here (see the module docstring); ``cache`` is the run
    config's ``dataset.cache`` (``$QSIM_CACHE`` on the node wins)."""
    here = node_id()
    if not here or not driver_node or here == driver_node:
        runtimes = Path(driver_runtimes) if driver_runtimes else default_root()
        return NodeFolders(Path(driver_workspaces), runtimes, cache_root(cache), True)
    base = os.environ.get(WORKSPACES_ENV) or os.path.join(tempfile.gettempdir(), "qsim-workspaces")
    workspaces = Path(base).expanduser().absolute() / run_id
    return NodeFolders(workspaces, default_root(), cache_root(cache), False)


def node_generation(store: str, generation_id: str, tenant: str, cache: Path) -> Generation:
    """The generation with ``tenant``'s files on this node's disk: a local store's own
    files, or an object store's fetched into the node cache and checked against the
    manifest. Refuses a local store this node cannot see (no shared file system)."""
    if not is_object_store(store) and not Path(store).is_dir():
        raise DatasetError(
            f"generation store {store} is not on the disk of node {node_id() or 'here'}: "
            "without a shared file system, put generations in an object store "
            "(dataset.store = 's3://bucket/prefix', see docs/cluster.md)"
        )
    generation = open_store(store, cache).get(generation_id)
    if generation.stored is not None and manifest_id(generation.manifest) != generation_id:
        raise DatasetError(
            f"{generation.stored_name(MANIFEST_FILE)}: content does not match generation id "
            f"{generation_id}: edited or damaged (run 'qsim dataset verify')"
        )
    fill_cache(generation, tenant)
    return generation
