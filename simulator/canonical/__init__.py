"""Canonical hashing: qsim's own checksums of Arrow data, the bottom layer every stage uses.

The rules are the docstring of ``spec`` (with ``CANONICAL_VERSION``). Modules, lowest first:
``mixing`` (finalizer, type tags), ``xxh3`` (the XXH3-64 port), ``kernels`` (per-type numba
loops), ``values`` (one hash per array value), ``type_names``, ``rows``, ``checksum`` (the
``ResultChecksum`` value), ``accumulator`` (streaming checksums), ``partitions`` (partition
keys and per-partition checksums). This package imports only ``simulator.errors``.
"""

from simulator.canonical.accumulator import ChecksumAccumulator, checksum_table
from simulator.canonical.checksum import ResultChecksum
from simulator.canonical.mixing import NULL_HASH
from simulator.canonical.partitions import (
    NULL_PARTITION,
    PartitionAccumulator,
    partition_checksums,
    partition_keys,
)
from simulator.canonical.rows import row_hashes
from simulator.canonical.spec import CANONICAL_VERSION, FLOAT_MANTISSA_BITS, ChecksumInputError
from simulator.canonical.type_names import canonical_type
from simulator.canonical.values import value_hashes

__all__ = [
    "CANONICAL_VERSION",
    "FLOAT_MANTISSA_BITS",
    "NULL_HASH",
    "NULL_PARTITION",
    "ChecksumAccumulator",
    "ChecksumInputError",
    "PartitionAccumulator",
    "ResultChecksum",
    "canonical_type",
    "checksum_table",
    "partition_checksums",
    "partition_keys",
    "row_hashes",
    "value_hashes",
]
