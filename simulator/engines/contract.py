"""The adapter contract: what an engine adapter is, and what the worker calls on it.

This module runs inside an engine's isolated runtime, so it depends only on the standard
library, pyarrow and ``simulator.datasets.table_spec`` (``TableSpec``, which datasets produce
and this contract re-exports; it too needs only pyarrow). A third-party adapter is a callable
``package.module:Factory`` that returns an :class:`EngineAdapter`.

Call order in a worker: ``open`` -> ``load_tables`` -> ``seal`` -> any number of
``execute`` / ``read_table`` / ``table_row_count`` / ``partition_digests`` /
``read_partitions`` / ``explain`` -> ``close``. Any exception an adapter
raises from ``execute`` is an engine error: the worker records its class name and message.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

# Re-exported: adapters (third-party ones too) take TableSpec from this contract.
from simulator.datasets.table_spec import TableSpec

__all__ = ["DIGEST_COLUMNS", "EngineAdapter", "StatementResult", "TableSpec"]

# The columns ``partition_digests`` returns after the partition columns: the engine's id of
# the partition (what ``read_partitions`` selects by), its row count, and two sums (mod
# 2**64, as decimal text) of the engine's hashes of its rows (two different functions of
# each row, e.g. its hash and a rehash of it).
DIGEST_COLUMNS = ("__qsim_partition_id", "__qsim_rows", "__qsim_hash_a", "__qsim_hash_b")


@dataclass
class StatementResult:
    """What ``execute`` returns.

    For a statement producing rows: ``schema`` and ``batches`` (an iterator, consumed once,
    so results stream). For a command: ``rows_affected`` as the engine reported it (None when
    the engine reports nothing) and an empty ``batches``.
    """

    schema: pa.Schema | None
    batches: Iterator[pa.RecordBatch]
    rows_affected: int | None = None
    notes: dict[str, Any] = field(default_factory=dict)


class EngineAdapter(abc.ABC):
    """One engine, one workspace, one tenant: the object a worker process drives."""

    @abc.abstractmethod
    def open(self, workspace: str, settings: dict[str, Any]) -> None:
        """Start the engine with its private files under ``workspace`` (a writable folder)."""

    @abc.abstractmethod
    def load_tables(self, tables: list[TableSpec]) -> None:
        """Expose ``tables``: read-only ones may stay views over Parquet; writable ones must be
        materialized inside the workspace so writes never touch the generation."""

    @abc.abstractmethod
    def seal(self) -> None:
        """Lock the sandbox: after this, replayed SQL cannot reach files, network,
        extensions or databases outside the workspace."""

    @abc.abstractmethod
    def version(self) -> str:
        """The version string the engine itself reports (e.g. ``v1.1.3``)."""

    @abc.abstractmethod
    def execute(self, sql: str) -> StatementResult:
        """Run one statement. Raise whatever the engine raises on failure."""

    @abc.abstractmethod
    def read_table(self, name: str) -> StatementResult:
        """Stream the full current contents of table ``name`` (the post-state of a write)."""

    @abc.abstractmethod
    def list_tables(self) -> list[str]:
        """Names of all tables (and views) visible to replayed SQL."""

    def table_row_count(self, name: str) -> int:
        """Row count of ``name``; adapters may override with something cheaper."""
        result = self.read_table(name)
        return sum(batch.num_rows for batch in result.batches)

    # Optional capability, announced by the worker at start (``has_partition_digests``):
    # an adapter that defines both methods below lets qsim re-read only the partitions a
    # write changed; without them qsim reads whole tables back after writes.
    #
    # partition_digests(name, partition_columns) -> StatementResult: per partition of
    #   ``name`` (split by ``partition_columns``; one partition when empty) its values,
    #   then ``DIGEST_COLUMNS``, computed inside the engine so that no table row crosses.
    #   The sums must be sums (not XOR) so duplicate rows count.
    # read_partitions(name, partition_columns, partition_ids) -> StatementResult: every
    #   row of ``name`` whose partition id (as ``partition_digests`` gives it) is in
    #   ``partition_ids``; rows of other partitions may come too (an id collision).
    #
    # Optional, with the two above (``has_row_digests``):
    #
    # partition_row_digests(name, partition_columns) -> StatementResult: like
    #   ``partition_digests``, but the two hash columns are functions of the SET of the
    #   engine's row identities in the partition (e.g. DuckDB's ``rowid``), not of the rows'
    #   values: an identity that a plain INSERT never reuses and a DELETE never reassigns to
    #   a surviving row. Cheaper than hashing values (one narrow column), and enough to find
    #   every partition a statement that only appends or deletes whole rows changed; a
    #   storage that renumbers rows (compaction) only makes qsim read more partitions.

    # Optional capability, announced by the worker at start (``has_explain``):
    #
    # explain(sql) -> dict: the plan the engine would use for ``sql``, without running it,
    #   as an operator tree ``{"name": operator, "children": [...]}`` holding operator names
    #   only (no costs, estimates, expressions or values; :mod:`simulator.engines.plan_tree`
    #   builds one from the usual plan formats). Runs under the same sandbox as ``execute``.

    @abc.abstractmethod
    def close(self) -> None:
        """Release the engine; must be safe to call twice."""


def has_explain(adapter: EngineAdapter) -> bool:
    """True when ``adapter`` offers the optional ``explain`` capability."""
    return callable(getattr(adapter, "explain", None))


def has_row_digests(adapter: EngineAdapter) -> bool:
    """True when ``adapter`` also offers ``partition_row_digests`` (see
    :class:`EngineAdapter`)."""
    return has_partition_digests(adapter) and callable(
        getattr(adapter, "partition_row_digests", None)
    )


def has_partition_digests(adapter: EngineAdapter) -> bool:
    """True when ``adapter`` offers the optional ``partition_digests`` / ``read_partitions``
    capability (see :class:`EngineAdapter`)."""
    return all(
        callable(getattr(adapter, name, None)) for name in ("partition_digests", "read_partitions")
    )
