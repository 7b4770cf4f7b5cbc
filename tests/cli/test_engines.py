"""``qsim engines check | list | prune`` through the real CLI entry point."""

from __future__ import annotations

import os

import pyarrow as pa
import pytest

from simulator.cli import main
from simulator.config import EngineSpec
from simulator.engines.contract import TableSpec
from simulator.engines.read_only_cache import ReadOnlyCache
from simulator.engines.runtime import default_root, ensure_runtime

CONFIG = """
[run]
baseline = "old"
candidates = ["new"]
[engines.old]
adapter = "duckdb"
requirements = ["duckdb==1.1.3"]
[engines.new]
adapter = "duckdb"
requirements = ["duckdb==2.0.1"]
settings = {{ threads = 1 }}
{extra}
"""


def test_check_prints_each_engines_own_version(tmp_path, capsys):
    config = tmp_path / "run.toml"
    config.write_text(CONFIG.format(extra="[engines.new.faults]\nenabled = true\n"))
    assert main(["engines", "check", str(config), "--root", str(default_root())]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in lines] == [["old:", "v1.1.3"], ["new:", "v2.0.1"]]
    assert lines[1].endswith("FAULTS ENABLED")


def test_check_exits_2_with_one_line_for_a_failing_engine(tmp_path, capsys):
    config = tmp_path / "run.toml"
    extra = '[engines.broken]\nadapter = "duckdb"\nrequirements = ["duckdb==0.0.1"]\n'
    config.write_text(CONFIG.format(extra=extra))
    code = main(
        ["engines", "check", str(config), "--engine", "broken", "--root", str(default_root())]
    )
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert captured.err.startswith(
        "qsim: error: engine broken: cannot install requirement 'duckdb==0.0.1': "
    )
    assert captured.err.count("\n") == 1


def test_check_refuses_faults_without_enabled(tmp_path, capsys):
    config = tmp_path / "run.toml"
    config.write_text(CONFIG.format(extra="[engines.new.faults]\nerror_rate = 0.5\n"))
    assert main(["engines", "check", str(config), "--engine", "new"]) == 2
    assert "engines.new.faults: fault settings given without enabled = true" in (
        capsys.readouterr().err
    )


def test_clean_cache_removes_entries_no_session_holds(tmp_path, capsys):
    spec = EngineSpec(name="new", adapter="duckdb", requirements=("duckdb==2.0.1",))
    runtime = ensure_runtime(spec, default_root())
    table = TableSpec(name="empty", files=(), schema=pa.schema([("x", pa.int64())]))
    cache = ReadOnlyCache(tmp_path / "cache")
    held = cache.acquire(spec, runtime, "gen-held", "t01", [table])
    cache.acquire(spec, runtime, "gen-free", "t01", [table]).release()
    assert main(["engines", "clean-cache", "--cache", str(tmp_path / "cache")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == f"removed 1 read-only cache entry(ies) from {tmp_path / 'cache'}"
    assert [info.manifest["generation"] for info in cache.entries()] == ["gen-held"]
    assert held.path.exists()
    held.release()


def test_list_and_prune_a_private_root(tmp_path, capsys):
    root = tmp_path / "runtimes"
    config = tmp_path / "run.toml"
    config.write_text(CONFIG.format(extra=""))
    assert main(["engines", "check", str(config), "--engine", "new", "--root", str(root)]) == 0
    assert main(["engines", "list", "--root", str(root)]) == 0
    listing = capsys.readouterr().out
    assert "duckdb duckdb==2.0.1 pyarrow>=14" in listing
    assert main(["engines", "prune", "--root", str(root)]) == 2
    assert main(["engines", "prune", "--keep-config", str(config), "--root", str(root)]) == 0
    assert capsys.readouterr().out.endswith("removed 0 runtime(s)\n")
    assert main(["engines", "prune", "--all", "--dry-run", "--root", str(root)]) == 0
    assert len(os.listdir(root)) == 2  # the runtime and the lock folder
    assert main(["engines", "prune", "--all", "--root", str(root)]) == 0
    assert capsys.readouterr().out.endswith("removed 1 runtime(s)\n")
    assert main(["engines", "list", "--root", str(root)]) == 0
    assert capsys.readouterr().out.startswith("no runtimes under")


@pytest.mark.parametrize("argv", [["engines"], ["engines", "check"]])
def test_usage_errors_exit_2(argv):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
