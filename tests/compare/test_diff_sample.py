"""Diff samples: the differing rows found by row-hash counts, duplicates counted, bounded."""

from __future__ import annotations

import pyarrow as pa
import pytest

from simulator.compare.diff_sample import diff_sample, is_sub_multiset
from simulator.errors import RunError


def write(path, table: pa.Table, stream: bool = False) -> str:
    opener = pa.ipc.new_stream if stream else pa.ipc.new_file
    with opener(path, table.schema) as writer:
        for batch in table.to_batches(max_chunksize=3):
            writer.write_batch(batch)
    return str(path)


def test_sample_lists_surplus_rows_on_each_side(tmp_path):
    base = write(tmp_path / "b", pa.table({"k": [1, 2, 2, 3, 4], "v": list("abbcd")}))
    cand = write(tmp_path / "c", pa.table({"k": [1, 2, 3, 5], "v": list("abce")}), stream=True)
    sample = diff_sample(base, cand, 10)
    # The duplicate (2, 'b') appears twice in the baseline, once in the candidate.
    assert sorted(r["k"] for r in sample.only_in_baseline) == [2, 4]
    assert sample.only_in_candidate == [{"k": 5, "v": "e"}]
    assert (sample.only_in_baseline_total, sample.only_in_candidate_total) == (2, 1)


def test_sample_is_bounded_but_totals_are_not(tmp_path):
    base = write(tmp_path / "b", pa.table({"k": list(range(100))}))
    cand = write(tmp_path / "c", pa.table({"k": list(range(50, 150))}))
    sample = diff_sample(base, cand, 3)
    assert len(sample.only_in_baseline) == 3 and sample.only_in_baseline_total == 50
    assert diff_sample(base, cand, 0).only_in_candidate == []


def test_identical_results_have_no_sample(tmp_path):
    table = pa.table({"k": [3, 1, 2]})
    sample = diff_sample(write(tmp_path / "b", table), write(tmp_path / "c", table), 5)
    assert sample.to_dict()["only_in_baseline_total"] == 0


def test_sub_multiset(tmp_path):
    whole = write(tmp_path / "w", pa.table({"k": [1, 2, 2, 3]}))
    assert is_sub_multiset(write(tmp_path / "a", pa.table({"k": [2, 2]})), whole)
    assert not is_sub_multiset(write(tmp_path / "b", pa.table({"k": [3, 3]})), whole)


def test_bad_inputs_are_refused_naming_the_file(tmp_path):
    (tmp_path / "junk").write_text("not arrow")
    with pytest.raises(RunError, match="junk: not an Arrow IPC result file"):
        diff_sample(str(tmp_path / "junk"), str(tmp_path / "junk"), 1)
    with pytest.raises(RunError, match="missing"):
        diff_sample(str(tmp_path / "nope"), str(tmp_path / "nope"), 1)
    with pytest.raises(ValueError, match="negative"):
        diff_sample(str(tmp_path / "junk"), str(tmp_path / "junk"), -1)


def test_sample_rows_are_strict_json(tmp_path):
    import datetime as dt
    import json
    from decimal import Decimal

    table = pa.table(
        {
            "f": [float("nan"), float("inf")],
            "b": [b"\x00\x01", b"z"],
            "d": pa.array([Decimal("1.50"), None], pa.decimal128(5, 2)),
            "t": [dt.datetime(2024, 1, 1, 12), dt.datetime(2024, 1, 2)],
            "l": [[1.5, float("-inf")], []],
        }
    )
    empty = table.slice(0, 0)
    sample = diff_sample(write(tmp_path / "b", table), write(tmp_path / "c", empty), 5)
    text = json.dumps(sample.to_dict(), allow_nan=False)
    assert sample.only_in_baseline[0] == {
        "f": "nan",
        "b": "0x0001",
        "d": "1.50",
        "t": "2024-01-01T12:00:00",
        "l": [1.5, "-inf"],
    }
    assert '"0x7a"' in text
