"""``TableSpec``: one tenant table as files, the value datasets hand to engines.

Generations (``GenerationStore.table_specs``) and workspaces (``make_workspace``) produce
it; engine adapters receive it through ``simulator.engines.contract``, which re-exports it.
Engine worker processes import this module inside isolated runtimes: it depends only on
the standard library and pyarrow, and ``simulator/datasets/__init__.py`` must stay
import-free.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa


@dataclass(frozen=True)
class TableSpec:
    """One table of a tenant as an adapter must expose it.

    ``files`` are absolute Parquet paths (the generation's files, or the workspace's copies
    when ``writable``). ``partition_columns`` are hive partition keys whose values live in
    the folder names ``col=value`` of each file and must appear as columns of the table.
    ``schema`` is the table's full Arrow schema, partition columns included.
    """

    name: str
    files: tuple[str, ...]
    schema: pa.Schema
    partition_columns: tuple[str, ...] = ()
    writable: bool = False
