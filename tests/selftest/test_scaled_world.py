"""``qsim selftest --scale``: the scenario worlds at another scale, named after it, with the
large-write pipeline; the scale's bounds."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.cli import build_parser
from simulator.errors import ConfigError
from simulator.selftest.world import check_scale, scenario_data


def test_a_scale_renames_the_world_and_turns_large_writes_on(tmp_path: Path) -> None:
    default = scenario_data("incident", tmp_path)
    scaled = scenario_data("incident", tmp_path, 0.5)
    assert default["dataset"]["generate"]["scale"] == 0.02
    assert "large_writes" not in default["workload"]["synth"]
    assert scaled["dataset"]["generate"] == {**default["dataset"]["generate"], "scale": 0.5,
                                             "name": "scenarios-s0.5"}  # fmt: skip
    assert scaled["dataset"]["generation"] == "scenarios-s0.5"
    assert scaled["workload"]["name"] == "scenarios-s0.5"
    assert scaled["workload"]["synth"]["large_writes"] is True
    # The A/A scenario shares the incident's world at the same scale, never another scale's.
    aa = scenario_data("aa", tmp_path, 0.5)
    assert (aa["dataset"]["generation"], aa["workload"]["name"]) == ("scenarios-s0.5",) * 2
    assert scenario_data("demo", tmp_path, 1)["dataset"]["generation"] == "demo-s1"


@pytest.mark.parametrize("bad", [0.0, -1.0, 100.5, float("nan"), float("inf")])
def test_a_scale_out_of_bounds_is_refused(bad: float) -> None:
    with pytest.raises(ConfigError, match=r"^--scale: must be a number above 0 and at most 100"):
        check_scale(bad)
    assert check_scale(100.0) == 100.0


def test_scale_argument_defaults_to_each_scenario_s_own() -> None:
    assert build_parser().parse_args(["selftest"]).scale is None
    assert build_parser().parse_args(["selftest", "--mutants", "--scale", "1"]).scale == 1.0
