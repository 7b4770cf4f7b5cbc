"""Run configuration: typed loading and one-line validation errors naming file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.config import RunConfig, check_name, load_config
from simulator.errors import ConfigError

MINIMAL = """
[run]
baseline = "base"
candidates = ["cand"]

[engines.base]
adapter = "duckdb"
requirements = ["duckdb==1.1.3"]

[engines.cand]
adapter = "duckdb"
requirements = ["duckdb==2.0.1"]
settings = { threads = 2, memory_limit = "2GB" }
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "run.toml"
    path.write_text(text)
    return path


def test_minimal_config_loads_typed_values(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, MINIMAL))
    assert isinstance(cfg, RunConfig)
    assert cfg.baseline.requirements == ("duckdb==1.1.3",)
    assert [c.name for c in cfg.candidates] == ["cand"]
    assert cfg.candidates[0].settings == {"threads": 2, "memory_limit": "2GB"}
    assert cfg.candidates[0].dialect == "duckdb"  # defaults to the adapter name
    assert cfg.load.mode == "closed" and cfg.perf.threshold == pytest.approx(0.10)
    assert cfg.faults_enabled is False


def test_demo_config_is_valid() -> None:
    cfg = load_config(Path(__file__).parents[1] / "configs" / "demo.toml")
    assert cfg.run.baseline in cfg.engines
    assert all(spec.requirements for spec in cfg.engines.values())
    assert cfg.workload.synth.large_writes is False  # opt-in: the demo workload has none


def test_large_writes_is_read_from_workload_synth(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, MINIMAL + "\n[workload.synth]\nlarge_writes = true\n"))
    assert cfg.workload.synth.large_writes is True


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (("[run]", "[run]\ncolour = 'red'"), "run.colour: unknown key"),
        (("[engines.base]", "[engines.base]\nthreads = 3"), "engines.base.threads: unknown key"),
        (
            (
                'adapter = "duckdb"\nrequirements = ["duckdb==1.1.3"]',
                'adapter = 3\nrequirements = ["duckdb==1.1.3"]',
            ),
            "engines.base.adapter: expected a string, got 3",
        ),
        (
            ('candidates = ["cand"]', 'candidates = ["nope"]'),
            "run.candidates[0]: names engine 'nope', which no [engines.*] declares",
        ),
        (('baseline = "base"', 'baseline = "ghost"'), "run.baseline: names engine 'ghost'"),
        (
            (
                'adapter = "duckdb"\nrequirements = ["duckdb==1.1.3"]',
                'adapter = "oracle"\nrequirements = ["duckdb==1.1.3"]',
            ),
            "engines.base.adapter: unknown adapter 'oracle'",
        ),
        (("[run]", "[load]\nconcurrency = 0\n[run]"), "load.concurrency: must be at least 1"),
        (
            ("[run]", "[dataset]\nread_only_cache_max_gb = -1\n[run]"),
            "dataset.read_only_cache_max_gb: must not be negative (0 means no bound)",
        ),
        (("[run]", "[load]\nmode = 'burst'\n[run]"), "load.mode: expected 'closed' or 'open'"),
        (
            ("[run]", "[perf]\nrepetitions = 'many'\n[run]"),
            "perf.repetitions: expected an integer, got 'many'",
        ),
        (("[run]", "[perf]\nmetric = 'ram'\n[run]"), "perf.metric: must be one of cpu, wall"),
        (("[run]", "[workload]\nname = '../etc'\n[run]"), "workload.name: '../etc' is not a valid"),
        (
            ("[run]", "[workload.synth]\nlarge_writes = 'yes'\n[run]"),
            "workload.synth.large_writes: expected true or false, got 'yes'",
        ),
        (("[run]", "[extras]\nx = 1\n[run]"), "extras: unknown section"),
        (
            ('settings = { threads = 2, memory_limit = "2GB" }', 'wheel_dir = "/no/such/wheels"'),
            "engines.cand.wheel_dir: '/no/such/wheels' is not a folder",
        ),
    ],
)
def test_bad_config_names_file_key_and_problem(tmp_path: Path, edit, expected) -> None:
    old, new = edit
    assert old in MINIMAL
    path = write(tmp_path, MINIMAL.replace(old, new, 1))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert expected in message
    assert "\n" not in message


def test_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no such config file"):
        load_config(tmp_path / "absent.toml")
    path = write(tmp_path, "[run\nname = 1")
    with pytest.raises(ConfigError, match=r"run.toml: invalid TOML"):
        load_config(path)
    path.write_bytes(b"\xff\xfe[run]")
    with pytest.raises(ConfigError, match=r"not UTF-8"):
        load_config(path)


def test_faults_rates_are_range_checked(tmp_path: Path) -> None:
    text = MINIMAL + "\n[engines.cand.faults]\nenabled = true\nerror_rate = 1.5\n"
    with pytest.raises(
        ConfigError, match=r"engines.cand.faults.error_rate: must be between 0 and 1"
    ):
        load_config(write(tmp_path, text))
    ok = MINIMAL + "\n[engines.cand.faults]\nenabled = true\nerror_rate = 0.01\n"
    assert load_config(write(tmp_path, ok)).faults_enabled is True


@pytest.mark.parametrize("bad", ["a/b", "..", "x/../y", "", "-lead", "a" * 80])
def test_check_name_refuses_paths(bad: str) -> None:
    with pytest.raises(ConfigError):
        check_name(bad, "name")
