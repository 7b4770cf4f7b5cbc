"""The qsim entry point: help on every group, exit codes, one-line errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from simulator.cli import GROUPS, main
from simulator.cli import report as report_cli
from simulator.errors import EngineError


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


def test_an_error_line_never_prints_a_dsn_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def fail(args: object) -> int:
        raise EngineError("cannot connect to postgresql://qsim:Zq-pw@db:5432/app (password=Zq-pw)")

    monkeypatch.setattr(report_cli, "_report", fail)
    assert main(["report", "r1"]) == 2
    err = capsys.readouterr().err
    assert "Zq-pw" not in err and "postgresql://qsim:***@db:5432/app" in err
