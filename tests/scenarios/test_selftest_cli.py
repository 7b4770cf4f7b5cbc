"""``qsim selftest`` as a user runs it: bad arguments (one line, exit 2), the help, and the
detection matrix it prints and gates on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from simulator.cli import build_parser
from simulator.selftest.matrix import Detection, passed, render

ROOT = Path(__file__).resolve().parents[2]


def _qsim(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "simulator", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def test_zero_runs_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = _qsim("selftest", "--runs", "0", "--work", str(tmp_path), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == "qsim: error: --runs: must be at least 1, got 0\n"
    assert list(tmp_path.iterdir()) == []


def test_a_bad_scale_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = _qsim("selftest", "--mutants", "--scale=1000", "--work", str(tmp_path), cwd=tmp_path)
    assert done.returncode == 2
    problem = "must be a number above 0 and at most 100 (1 = 10M rows), got 1000"
    assert done.stderr == f"qsim: error: argument --scale: {problem}\n"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("value", "problem"),
    [("0", "must be a number above 0 and at most 100 (1 = 10M rows), got 0"),
     ("many", "not a number: 'many'")],
)  # fmt: skip
def test_scale_values_the_parser_refuses(capsys, value: str, problem: str) -> None:
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(["selftest", f"--scale={value}"])
    assert info.value.code == 2
    assert capsys.readouterr().err.endswith(f"argument --scale: {problem}\n")


def test_a_work_folder_that_is_a_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    blocker = tmp_path / "work"
    blocker.write_text("not a folder")
    done = _qsim("selftest", "--work", str(blocker / "inner"), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("qsim: error: --work: cannot use ")
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def test_arguments_and_defaults() -> None:
    args = build_parser().parse_args(["selftest"])
    assert (args.runs, args.quick, args.work) == (3, False, None)
    args = build_parser().parse_args(["selftest", "--runs", "5", "--quick", "--work", "w"])
    assert (args.runs, args.quick, args.work) == (5, True, "w")


def test_matrix_lists_every_row_and_fails_on_any_missed_detection() -> None:
    rows = [
        Detection("lost writes under load", "write_mismatch", "15/15 named", 3, True),
        Detection("none (A/A performance)", "<= 5%", "9/50 = 18.0%", 1, False),
    ]
    lines = render(rows).splitlines()
    assert lines[0].split() == ["fault", "expected", "seen", "runs", "result"]
    assert set(lines[1]) <= {"-", " "}
    assert lines[2].endswith("PASS") and "15/15 named" in lines[2]
    assert lines[3].endswith("FAIL") and "9/50 = 18.0%" in lines[3]
    assert not passed(rows)
    assert passed(rows[:1])
    assert not passed([])
