"""Workspaces: one engine's private view of one tenant's tables in one run.

Writable tables are **copied** (not hard-linked) into the workspace: a hard link shares the
inode with the generation, and an engine that rewrites a Parquet file in place (or a
process running as root, which ignores the read-only mode) would then change the
generation. Copies cost disk for the writable tables only; read-only tables point at the
generation's own files, which are read-only on disk (an engine that caches them, DuckDB,
reads them once per tenant and release: ``simulator.engines.read_only_cache``).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from simulator.datasets.store import Generation
from simulator.datasets.table_spec import TableSpec
from simulator.errors import DatasetError


def make_workspace(
    generation: Generation, tenant: str, dest: Path, writable: set[str]
) -> list[TableSpec]:
    """TableSpecs for all of ``tenant``'s tables: those named in ``writable`` copied under
    ``dest/tables/<table>/`` (hive folders kept, files writable), the others over the
    generation's files. Refuses an unknown tenant or table and a non-empty ``dest/tables``."""
    tables = generation.tables(tenant)
    unknown = sorted(set(writable) - set(tables))
    if unknown:
        raise DatasetError(
            f"generation {generation.id[:12]}: tenant {tenant} has no table {unknown[0]!r} "
            f"to make writable (tables: {', '.join(tables)})"
        )
    root = dest / "tables"
    if root.exists() and any(root.iterdir()):
        raise DatasetError(f"{root}: workspace folder is not empty")
    specs = []
    for spec in generation.table_specs(tenant):
        if spec.name not in writable:
            specs.append(spec)
            continue
        prefix = generation.path / "tables" / tenant / spec.name
        copies = []
        for source in spec.files:
            copy = root / spec.name / Path(source).relative_to(prefix)
            try:
                copy.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, copy)
                os.chmod(copy, 0o644)
            except OSError as err:
                raise DatasetError(
                    f"{err.filename or copy}: cannot create workspace copy ({err.strerror})"
                ) from None
            copies.append(str(copy))
        specs.append(
            TableSpec(
                name=spec.name,
                files=tuple(copies),
                schema=spec.schema,
                partition_columns=spec.partition_columns,
                writable=True,
            )
        )
    return specs
