"""The qsim entry point: help on every group, exit codes, one-line errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from simulator.cli import GROUPS, main


def test_help_lists_every_stage_group(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for group in GROUPS:
        assert group in out


@pytest.mark.parametrize("group", GROUPS)
def test_each_group_has_help(group: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([group, "--help"])
    assert info.value.code == 0
    assert "usage: qsim" in capsys.readouterr().out


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["frobnicate"])
    assert info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_console_script_runs_as_module() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "simulator", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0
    assert proc.stdout.startswith("qsim ")
