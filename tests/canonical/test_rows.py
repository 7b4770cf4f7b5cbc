"""Row hashing in steps (``simulator.canonical.rows``): wide tables take smaller steps
and give the same checksums."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from simulator.canonical import (
    checksum_table,
    partition_checksums,
)


def test_wide_tables_are_hashed_in_smaller_steps_with_the_same_result():
    columns, rows = 1000, 5000
    rng = np.random.default_rng(3)
    wide = pa.table({f"c{j}": rng.integers(0, 100, rows) for j in range(columns)})
    assert rows > (1 << 22) // columns  # more rows than one step holds
    whole = checksum_table(wide)
    assert whole.row_count == rows
    assert checksum_table(wide.to_batches(max_chunksize=999)) == whole
    swapped = wide.select([1, 0, *range(2, columns)])
    assert checksum_table(swapped).multiset != whole.multiset
    (key,) = partition_checksums(wide, [])
    assert partition_checksums(wide, [])[key] == (rows, whole.multiset)
