"""The canonical form: the rules every qsim checksum follows, their version, their error.

One stable 64-bit hash per value, row, column and result.

qsim computes every checksum itself from Arrow data, never with an engine's hash function
(those change between versions). Values are first put in a canonical form, so that two
engines returning the same logical value in different physical types hash equal, then mixed
with the murmur3 64-bit finalizer (a bijection) or hashed with XXH3-64 (variable-length data,
bit-identical to ``xxhash.xxh3_64``, then mixed with the type's tag).
All constants derive from fixed strings, so hashes are the same across runs, processes and
machines, and the same however rows are split into batches, chunks or slices.

Canonicalization rules (each one tested in ``tests/canonical/``):

- NULL: every NULL, of any type, hashes to the one constant ``NULL_HASH``, distinct from
  NaN, 0, ``''``, an empty list and every other non-null value (up to a 2**-64 chance).
- Integers of every width and signedness hash by value: int8 5 == int64 5 == uint32 5.
  uint64 values at or above 2**63 are hashed exactly under their own tag, so they never
  collide with the negative int64 that shares their bit pattern.
- Floats: float16 and float32 are widened to float64 (exact); -0.0 hashes as 0.0; every NaN
  payload hashes as one NaN; +inf and -inf are exact. Finite values are quantized by
  rounding the 52-bit mantissa to ``FLOAT_MANTISSA_BITS`` bits (round-to-nearest on the bit
  pattern, a carry moves into the exponent), a relative step of 2**-32 (about 2.3e-10), so
  last-bit noise from summation order hashes equal. Two values on either side of a rounding
  boundary can still hash differently, however close they are: a float-only mismatch must
  be confirmed by a tolerant comparison (the comparison stage does). Floats and integers do
  not hash equal (a type difference is the schema comparison's business).
- Decimals hash by numeric value, independent of precision and scale: the unscaled integer
  is stripped of trailing zeros first, so 1.50 decimal(10,2) == 1.5 decimal(5,1) == 1.500
  decimal256(40,3). decimal32/64/128/256 all hash alike.
- Strings (string, large_string, string_view) hash their UTF-8 bytes with XXH3-64; binary
  (binary, large_binary, binary_view, fixed_size_binary) hashes its bytes with a different
  seed, so 'ab' != b'ab'. Dictionary arrays hash as their decoded values.
- Timestamps hash as UTC nanoseconds whatever the unit (1 s == 1000 ms == 10**9 ns);
  tz-aware and naive timestamps with the same stored numbers hash equal (the canonical type
  names differ: ``timestamptz`` vs ``timestamp``). Values beyond the int64 nanosecond range
  hash exactly as (seconds, sub-second nanoseconds) under their own tag.
- Dates hash by day number (date32 == date64 on the same day). Times (time32/time64) hash
  by nanoseconds since midnight.
- Durations and intervals hash as (months, days, nanoseconds): a month_day_nano interval
  with zero months and days hashes equal to the duration of the same nanoseconds.
- Booleans hash 0/1 under their own tag; the null type is all NULLs.
- Lists (list, large_list, list_view, fixed_size_list) are ordered: the hash chains the
  length then each element's hash, so position and length matter and a NULL list differs
  from an empty list.
- Structs chain their field hashes by position (a NULL struct is NULL; its fields are not
  looked at). Maps are order-insensitive over their entries: the sum of (key, value) entry
  hashes, with duplicates counted. Unions (sparse or dense) hash the member value tagged
  with the member's position; a NULL member value is NULL.
- Rows chain their column hashes by position, so swapping two same-typed columns changes
  the row hash, and changing one value always changes it (each step is a bijection).

Result checksums: ``multiset`` is 128 bits, two 64-bit sums mod 2**64 (hex, lane one then
lane two): of the row hashes, and of a remix of each row hash, so it is order-insensitive,
counts duplicates, adds up across batches and partitions lane by lane, and a second lane
guards against differences that cancel in the first; ``ordered`` is xxh3-128 streamed over
the row-hash buffer in arrival order; ``columns`` holds one order-insensitive sum per column
position.
"""

from __future__ import annotations

import sys

from simulator.errors import QsimError

if sys.byteorder != "little":
    # The kernels read words in native order; hashes are defined by the little-endian result.
    raise ImportError("simulator.canonical needs a little-endian machine")

# Bump when any rule above changes: stored checksums of an older version are not comparable.
CANONICAL_VERSION = 1

# Mantissa bits kept when quantizing finite floats (of float64's 52).
FLOAT_MANTISSA_BITS = 32


class ChecksumInputError(QsimError, TypeError):
    """Data qsim cannot checksum: an unsupported Arrow type, a batch that does not match
    the schema it is streamed into, a missing partition column, a malformed checksum."""
