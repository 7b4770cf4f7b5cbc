"""Write verification whose cost follows the change: engine digests find what a write
changed, and only those partitions are read back and checksummed canonically.

After a table's post-state is verified on an engine, the runner keeps it with the engine's
own per-partition digests, computed by one aggregate inside the engine: content digests
(row count and two sums of engine row hashes, contract ``partition_digests``) and, where
the engine has them, row-identity digests (row count and functions of the set of its row
ids, ``partition_row_digests``: one narrow column, several times cheaper). After the next
DML on that table it takes the digests again: a partition whose digest is unchanged keeps
its verified canonical state; a changed, new or vanished one is re-read
(``read_partitions``). A statement that only appends or deletes
whole rows (a plain INSERT or a DELETE) is judged by row identities; one that may rewrite
rows in place (UPDATE, MERGE, an upsert) by content, and a partition whose content digest
is not known for the verified state (changed since by row identity) is re-read then, and
checksummed canonically inside the worker (``EngineWorker.table_state``) once the read is
large: no row crosses. The result must agree with the engine's digest row counts
partition by partition, or the whole table is read back as before. The canonical
checksums compared across engines are always qsim's; the engine's digests are only
compared with themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from simulator.canonical import ChecksumInputError, partition_keys
from simulator.compare.tables import state_from_checksums, table_state
from simulator.engines.contract import DIGEST_COLUMNS
from simulator.engines.outcome import WorkerOutcome
from simulator.engines.worker import EngineWorker
from simulator.errors import EngineError
from simulator.results.execution import TableState

# Outcomes that mean the worker itself failed: the execution is then a crash to retry, as
# when a full read-back fails, never quietly verified on a replaced worker.
_WORKER_FAILED = ("crash", "timeout")


@dataclass(frozen=True)
class Digest:
    """The engine's digest of one partition: its id in the engine, rows, two hash sums."""

    partition_id: int
    rows: int
    hash_a: int
    hash_b: int

    def content(self) -> tuple[int, int, int]:
        """What identifies the partition's content (the id only names it)."""
        return self.rows, self.hash_a, self.hash_b


@dataclass
class VerifiedTable:
    """A table's last verified post-state on one engine, the engine's digests of exactly
    that content, and how many rows qsim read back to verify it.

    ``digests`` are content digests and may lack partitions changed since they were taken
    (by row identity only); ``row_digests`` are None when the engine has none."""

    state: TableState
    digests: dict[str, Digest]
    row_digests: dict[str, Digest] | None
    rows_read: int


class _DigestSink:
    """Collects ``partition_digests`` batches into digests keyed by canonical partition key."""

    def __init__(self, columns: list[str]) -> None:
        self.columns = columns
        self.digests: dict[str, Digest] = {}
        self.error: Exception | None = None

    def __call__(self, batch: pa.RecordBatch) -> None:
        if self.error is not None:
            return
        try:
            keys = partition_keys(batch, self.columns)
            values = zip(*(batch.column(name).to_pylist() for name in DIGEST_COLUMNS), strict=True)
            for key, (pid, rows, hash_a, hash_b) in zip(keys, values, strict=True):
                if rows:  # an empty unpartitioned table still gives its one aggregate row
                    self.digests[key] = Digest(int(pid), int(rows), int(hash_a), int(hash_b))
        except (ChecksumInputError, KeyError, TypeError, ValueError) as err:
            self.error = err


def state_from_reply(
    table: str, outcome: WorkerOutcome, rows_before: int | None
) -> TableState | None:
    """The post-state the worker checksummed (``EngineWorker.table_state``); None when qsim
    cannot checksum the table's rows (the state is then "not captured")."""
    reply = outcome.checksums
    if "checksum_error" in reply or "partitions" not in reply:
        return None
    checksums = {
        key: (int(rows), str(multiset)) for key, (rows, multiset) in reply["partitions"].items()
    }
    return state_from_checksums(table, reply["partition_columns"], checksums, rows_before)


def _checked(outcome: WorkerOutcome) -> WorkerOutcome:
    """``outcome``, unless the worker crashed or timed out: EngineError then."""
    if outcome.status in _WORKER_FAILED:
        raise EngineError(
            f"verifying a write failed: {outcome.error_class}: {outcome.error_message}"
        )
    return outcome


def read_digests(
    worker: EngineWorker,
    table: str,
    columns: list[str],
    timeout_s: float,
    *,
    by_row_identity: bool = False,
) -> dict[str, Digest] | None:
    """The engine's digests of ``table`` per partition (content digests, or row-identity
    digests with ``by_row_identity``); None when the engine has none. Raises EngineError
    when the worker crashed or timed out."""
    if not (worker.has_row_digests if by_row_identity else worker.has_partition_digests):
        return None
    sink = _DigestSink(columns)
    digest = worker.partition_row_digests if by_row_identity else worker.partition_digests
    outcome = _checked(digest(table, columns, sink, timeout_s=timeout_s))
    if outcome.status != "ok" or sink.error is not None:
        return None
    return sink.digests


def verified_after_full_read(
    worker: EngineWorker, state: TableState, timeout_s: float
) -> VerifiedTable | None:
    """``state`` (read back in full) with the engine's digests of it, when they agree with
    it row count by row count; None otherwise (the next write then reads in full again)."""
    table, columns = state.table, state.partition_columns
    digests = read_digests(worker, table, columns, timeout_s)
    if digests is None or not _counts_agree(state, digests):
        return None
    row_digests = read_digests(worker, table, columns, timeout_s, by_row_identity=True)
    if row_digests is not None and not _counts_agree(state, row_digests):
        row_digests = None
    return VerifiedTable(state, digests, row_digests, rows_read=state.row_count)


def verified_after_change(
    worker: EngineWorker,
    previous: VerifiedTable,
    rows_before: int | None,
    timeout_s: float,
    *,
    only_adds_or_removes_rows: bool = False,
) -> VerifiedTable | None:
    """The table's post-state from ``previous`` and a read of only the partitions whose
    engine digest changed since; None when the engine cannot say or the pieces disagree
    with the engine's row counts (the caller then reads the whole table).

    ``only_adds_or_removes_rows``: the statement was a plain INSERT or a DELETE, so row
    identities are enough to find what it changed (when the engine has them)."""
    table, columns = previous.state.table, previous.state.partition_columns
    known = set(previous.state.partitions)
    if only_adds_or_removes_rows and previous.row_digests is not None:
        row_digests = read_digests(worker, table, columns, timeout_s, by_row_identity=True)
        if row_digests is None:
            return None
        changed = _changed(known, previous.row_digests, row_digests)
        # Content digests stay true for partitions whose rows are the same rows.
        digests = {key: d for key, d in previous.digests.items() if key not in changed}
        after = row_digests
    else:
        after = read_digests(worker, table, columns, timeout_s)
        if after is None:
            return None
        changed = _changed(known, previous.digests, after)
        digests = after
        row_digests = read_digests(worker, table, columns, timeout_s, by_row_identity=True)
    ids = sorted({after[key].partition_id for key in changed if key in after})
    fresh = state_from_checksums(table, columns, {}, rows_before)
    rows_read = 0
    if ids:
        outcome = _checked(worker.table_state(table, columns, ids, timeout_s=timeout_s))
        read = state_from_reply(table, outcome, rows_before) if outcome.status == "ok" else None
        if read is None:
            return None
        fresh, rows_read = read, int(outcome.checksums.get("rows_read", 0))
    if fresh.partition_columns != columns:
        return None
    partitions = {k: p for k, p in previous.state.partitions.items() if k not in changed}
    # A partition read because its id collided with a changed one is fresh too: keep it.
    partitions.update(fresh.partitions)
    state = table_state(table, columns, partitions, rows_before)
    if not _counts_agree(state, after):
        return None
    if row_digests is not None and not _counts_agree(state, row_digests):
        row_digests = None
    return VerifiedTable(state, digests, row_digests, rows_read=rows_read)


def _changed(known: set[str], before: dict[str, Digest], after: dict[str, Digest]) -> set[str]:
    """Partitions to re-read: new, vanished, with a moved digest, or (among the verified
    state's ``known`` partitions) with no digest before to compare with."""
    return {
        key
        for key in known | set(before) | set(after)
        if key not in before or key not in after or before[key].content() != after[key].content()
    }


def _counts_agree(state: TableState, digests: dict[str, Digest]) -> bool:
    """Whether ``state`` has exactly the engine's partitions with the engine's row counts."""
    counts = {key: partition.row_count for key, partition in state.partitions.items()}
    return counts == {key: digest.rows for key, digest in digests.items()}
