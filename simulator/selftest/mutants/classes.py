"""The mutant classes: each name, and the family of change it makes (what verdict should
flag it). Read by the mutant engine inside its runtime (standard library only) and by the
suite that scores it."""

from __future__ import annotations

# name -> family (result | write | error | performance)
MUTATIONS: dict[str, str] = {
    "swap_columns": "result",
    "duplicate_row": "result",
    "drop_row": "result",
    "null_to_empty": "result",
    "float_drift": "result",
    "timestamp_shift": "result",
    "decimal_round": "result",
    "case_fold": "result",
    "shuffle_rows": "result",
    "int_off_by_one": "result",
    "drop_null_rows": "result",
    "lost_partition": "write",
    "delete_leaves_rows": "write",
    "extra_row_written": "write",
    "wrong_reported_count": "write",
    "new_error": "error",
    "intermittent_error": "error",
    "slow_join": "performance",
}
