"""The baseline bank: keys, refresh sampling, storage."""

from __future__ import annotations

from pathlib import Path

from simulator.runner.bank import (
    BaselineBank,
    bank_key,
    chosen_for_refresh,
    fingerprint,
    write_history,
)


def test_key_changes_with_every_input_that_changes_the_baseline_result() -> None:
    base = ("spec1", {"threads": 1}, "gen1", "t01", "SELECT 1", write_history([]))
    key = bank_key(*base)
    variants = [
        ("spec2", *base[1:]),
        (base[0], {"threads": 2}, *base[2:]),
        (*base[:2], "gen2", *base[3:]),
        (*base[:3], "t02", *base[4:]),
        (*base[:4], "SELECT 2", base[5]),
        (*base[:5], write_history(["INSERT INTO x SELECT 1"])),
    ]
    keys = {bank_key(*v) for v in variants}
    assert key not in keys and len(keys) == len(variants)
    assert bank_key(*base) == key


def test_refresh_sample_is_deterministic_per_run_and_near_its_fraction() -> None:
    keys = [bank_key("s", {}, "g", "t01", f"SELECT {i}", "") for i in range(2000)]
    chosen = [k for k in keys if chosen_for_refresh(k, "run-a", 0.1)]
    assert 150 < len(chosen) < 250
    assert chosen == [k for k in keys if chosen_for_refresh(k, "run-a", 0.1)]
    other = {k for k in keys if chosen_for_refresh(k, "run-b", 0.1)}
    assert other != set(chosen)  # each run re-checks a different sample
    assert not any(chosen_for_refresh(k, "run-a", 0.0) for k in keys)


def test_bank_round_trip_and_drift_fingerprint(tmp_path: Path) -> None:
    bank = BaselineBank(tmp_path / "bank.sqlite")
    record = {"status": "ok", "result": {"row_count": 3, "multiset": "ab"}, "writes": {}}
    bank.put("k1", [record], b"IPC", "run-1")
    entry = bank.get_many(["k1", "k2"])
    assert list(entry) == ["k1"]
    assert entry["k1"].executions == [record] and entry["k1"].result == b"IPC"
    drifted = {**record, "result": {"row_count": 3, "multiset": "cd"}}
    assert fingerprint([record]) != fingerprint([drifted])
    assert fingerprint([record]) == fingerprint([{**record, "wall_ms": 9.0}])
    bank.close()
    assert len(BaselineBank(tmp_path / "bank.sqlite")) == 1


def test_key_changes_with_the_canonical_hashing_version(monkeypatch) -> None:
    # Banked checksums of an older hashing scheme must not be compared with fresh ones: a
    # string-hash change once turned 59 matches into false mismatches through the bank.
    import simulator.runner.bank as bank

    base = ("spec1", {"threads": 1}, "gen1", "t01", "SELECT 1", write_history([]))
    key = bank_key(*base)
    monkeypatch.setattr(bank, "CANONICAL_VERSION", bank.CANONICAL_VERSION + 1)
    assert bank_key(*base) != key
