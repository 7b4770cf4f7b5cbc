"""--candidate SPEC: choose, override or add candidate engines of a config."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.config import load_config
from simulator.errors import ConfigError
from simulator.jobs.candidates import with_candidates

CONFIG = """
[run]
name = "nightly"
candidates = ["candidate"]

[engines.baseline]
adapter = "duckdb"
requirements = ["duckdb==1.1.3"]
settings = { threads = 2 }

[engines.candidate]
adapter = "duckdb"
requirements = ["duckdb==2.0.1"]
settings = { threads = 1 }

[engines.lite]
adapter = "sqlite"
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "nightly.toml"
    path.write_text(CONFIG)
    return path


def test_no_spec_keeps_the_config(config: Path) -> None:
    cfg = load_config(config)
    assert with_candidates(cfg, []) is cfg


def test_override_add_and_choose(config: Path) -> None:
    cfg = with_candidates(
        load_config(config), ["candidate=duckdb==2.1.0", "duckdb==1.4.2", "rc=duckdb>=2", "lite"]
    )
    assert cfg.run.candidates == ("candidate", "duckdb-1.4.2", "rc", "lite")
    overridden = cfg.engines["candidate"]
    assert overridden.requirements == ("duckdb==2.1.0",) and overridden.version == "2.1.0"
    assert overridden.settings == {"threads": 1}  # kept from the declaration
    added = cfg.engines["duckdb-1.4.2"]
    assert added.adapter == "duckdb" and added.requirements == ("duckdb==1.4.2",)
    assert added.settings == {"threads": 2}  # copied from the baseline
    assert cfg.engines["rc"].version == ""
    assert cfg.raw["run"]["candidates"] == ["candidate", "duckdb-1.4.2", "rc", "lite"]
    assert cfg.baseline.requirements == ("duckdb==1.1.3",)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nosuch", "no engine 'nosuch' in .*declared: baseline, candidate, lite"),
        ("baseline", "'baseline' is the baseline"),
        ("baseline=duckdb==2.0.0", "'baseline' is the baseline"),
        ("rc=duck db", "is not a requirement like 'duckdb==2.0.1'"),
        ("../x=duckdb==2.0.1", "is not a valid name"),
    ],
)
def test_bad_specs_are_one_line(config: Path, spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        with_candidates(load_config(config), [spec])
    assert "\n" not in str(info.value)


def test_same_candidate_twice_is_refused(config: Path) -> None:
    with pytest.raises(ConfigError, match="listed twice"):
        with_candidates(load_config(config), ["candidate", "candidate=duckdb==2.1.0"])
