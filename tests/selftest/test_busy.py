"""busy_cores: real busy-loop processes for the block's duration, gone after it."""

from __future__ import annotations

import os
import time

import pytest

from simulator.selftest.busy import busy_cores


def _cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_burners_use_the_cpu_during_the_block_and_are_gone_after_it() -> None:
    with busy_cores(2) as pids:
        assert len(pids) == 2
        # Each burner runs a busy loop: it keeps accumulating CPU time (polled, so a machine
        # busy with other work only makes this slower, never wrong).
        deadline = time.monotonic() + 30
        while min(_cpu_s(pid) for pid in pids) < 0.1 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert min(_cpu_s(pid) for pid in pids) >= 0.1
    for pid in pids:
        assert not os.path.exists(f"/proc/{pid}")


def test_burners_stop_when_the_block_raises() -> None:
    with pytest.raises(RuntimeError), busy_cores(1) as pids:
        raise RuntimeError("boom")
    assert not os.path.exists(f"/proc/{pids[0]}")
    with pytest.raises(ValueError, match="must not be negative"), busy_cores(-1):
        pass
