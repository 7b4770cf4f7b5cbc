"""Isolated runtimes: real uv builds under a private root (tmp_path), bad requirements,
damaged runtimes, concurrent builders, offline wheel folders, list and prune."""

from __future__ import annotations

import importlib.metadata as metadata
import json
import os
import shutil
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import numba
import pyarrow as pa
import pytest
from engine_fixtures import DUCKDB_NEW, duckdb_spec, fake_spec

from simulator.canonical import value_hashes
from simulator.config import EngineSpec
from simulator.engines.runtime import (
    MARKER,
    ensure_runtime,
    list_runtimes,
    prune_runtimes,
    runtime_spec,
    spec_hash,
)
from simulator.errors import EngineError

REPO = Path(__file__).resolve().parents[2]
PLUGIN = REPO / "examples" / "plugin_adapter"


def site_packages(runtime_path: Path) -> Path:
    return next(runtime_path.glob("lib/python*/site-packages"))


def test_runtime_is_built_once_and_reused(tmp_path):
    spec = fake_spec("FakeEngineAdapter")
    first = ensure_runtime(spec, tmp_path)
    built_at = json.loads((first.path / MARKER).read_text())["built_at"]
    second = ensure_runtime(spec, tmp_path)
    assert second == first
    assert json.loads((second.path / MARKER).read_text())["built_at"] == built_at
    assert first.path == tmp_path / first.spec_hash
    assert first.requirements == ("pyarrow>=14",)
    out = subprocess.run(
        [str(first.python), "-c", "import sys, pyarrow; print(sys.prefix)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(out.stdout.strip()) == first.path


def test_canonical_hashing_sits_beside_the_runtime_and_pyarrow_starts_without_numpy(tmp_path):
    """numba and numpy in site-packages made pyarrow import numpy at every worker start
    (0.3-0.5 s): they live in the runtime's hashing folder, on the path only to hash."""
    runtime = ensure_runtime(fake_spec("FakeEngineAdapter"), tmp_path)
    hashing = runtime.path / "hashing"
    for name in ("numba", "llvmlite", "numpy", "xxhash"):
        assert (hashing / name).is_dir(), name
        assert not (site_packages(runtime.path) / name).exists(), name
        installed = next(hashing.glob(f"{name}-*.dist-info")).name
        assert installed == f"{name}-{metadata.version(name)}.dist-info"
    # A list column's offsets and NULLs: numpy arrays made from Arrow buffers, not to_numpy.
    code = (
        "import os, sys, pyarrow as pa\n"
        "print('numpy' in sys.modules)\n"
        "sys.path.append(os.environ['QSIM_HASHING_PATH'])\n"
        "from simulator.canonical import value_hashes\n"
        "print(*value_hashes(pa.array([[1, None], None, [2]], pa.list_(pa.int64()))))\n"
    )
    out = subprocess.run(
        [str(runtime.python), "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env=runtime.env(),
    )
    expected = value_hashes(pa.array([[1, None], None, [2]], pa.list_(pa.int64())))
    assert out.stdout.split() == ["False", *(str(int(h)) for h in expected)]


def test_spec_hash_tracks_requirements_and_local_plugin_content(tmp_path):
    old, new = duckdb_spec("1.1.3"), duckdb_spec(DUCKDB_NEW)
    assert spec_hash(runtime_spec(old)) != spec_hash(runtime_spec(new))
    assert spec_hash(runtime_spec(new)) == spec_hash(runtime_spec(replace(new, name="other")))
    plugin = tmp_path / "plugin"
    shutil.copytree(PLUGIN, plugin)
    spec = EngineSpec(
        name="p", adapter="qsim_example_plugin.adapter:ExampleAdapter", requirements=(str(plugin),)
    )
    before = spec_hash(runtime_spec(spec))
    (plugin / "qsim_example_plugin" / "__init__.py").write_text('"""changed"""\n')
    assert spec_hash(runtime_spec(spec)) != before


@pytest.mark.parametrize(
    ("requirement", "why"),
    [("duckdb==0.0.999", "duckdb"), ("qsim-no-such-package-4711", "not found")],
)
def test_requirement_that_cannot_be_installed_is_one_line(tmp_path, requirement, why):
    spec = EngineSpec(name="cand", adapter="duckdb", requirements=(requirement,))
    with pytest.raises(EngineError) as err:
        ensure_runtime(spec, tmp_path)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"engine cand: cannot install requirement '{requirement}': ")
    assert why in message
    assert not any(p for p in tmp_path.iterdir() if not p.name.startswith("."))


def test_local_requirement_that_is_not_a_folder(tmp_path):
    spec = EngineSpec(name="cand", adapter="pkg.mod:F", requirements=("./no/such/plugin",))
    with pytest.raises(EngineError, match=r"^engine cand: requirement './no/such/plugin' is not"):
        ensure_runtime(spec, tmp_path)


def test_deleted_runtime_is_rebuilt(tmp_path):
    spec = duckdb_spec(DUCKDB_NEW)
    runtime = ensure_runtime(spec, tmp_path)
    shutil.rmtree(runtime.path)
    again = ensure_runtime(spec, tmp_path)
    assert again.python.exists()
    assert (again.path / MARKER).exists()


@pytest.mark.parametrize(
    "damage", ["engine_removed", "marker_removed", "python_removed", "hashing_link_removed"]
)
def test_corrupted_runtime_is_rebuilt(tmp_path, damage):
    spec = duckdb_spec(DUCKDB_NEW)
    runtime = ensure_runtime(spec, tmp_path)
    if damage == "engine_removed":
        shutil.rmtree(site_packages(runtime.path) / "duckdb")
    elif damage == "hashing_link_removed":
        (runtime.path / "hashing" / "numba").unlink()
    elif damage == "marker_removed":
        (runtime.path / MARKER).unlink()
    else:
        runtime.python.unlink()
    again = ensure_runtime(spec, tmp_path)
    probe = subprocess.run(
        [str(again.python), "-c", "import duckdb; print(duckdb.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout.strip() == DUCKDB_NEW
    assert (again.path / "hashing" / "numba").resolve() == Path(numba.__file__).parent


@pytest.mark.slow
def test_two_processes_building_the_same_spec_wait_for_each_other(tmp_path):
    script = textwrap.dedent(
        f"""
        import json, sys
        from pathlib import Path
        from simulator.config import EngineSpec
        from simulator.engines.runtime import MARKER, ensure_runtime
        spec = EngineSpec(name="c", adapter="duckdb", requirements=("duckdb=={DUCKDB_NEW}",))
        runtime = ensure_runtime(spec, Path(sys.argv[1]))
        print(json.dumps([str(runtime.path),
                          json.loads((runtime.path / MARKER).read_text())["built_at"]]))
        """
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(tmp_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        results.append(json.loads(out))
    # Same folder, and the second process reused the first one's build (same build time).
    assert results[0] == results[1]
    assert len([p for p in tmp_path.iterdir() if not p.name.startswith(".")]) == 1


@pytest.mark.slow
def test_offline_site_installs_from_a_wheel_folder_only(tmp_path):
    from uv import find_uv_bin

    wheels = tmp_path / "wheels"
    subprocess.run(
        [find_uv_bin(), "build", "--quiet", "--wheel", "--out-dir", str(wheels), str(PLUGIN)],
        check=True,
        capture_output=True,
    )
    # The worker's pyarrow; canonical hashing's packages are linked from qsim's own.
    packages = ("pyarrow",)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--dest",
            str(wheels),
            *(f"{name}=={metadata.version(name)}" for name in packages),
        ],
        check=True,
        capture_output=True,
    )
    spec = EngineSpec(
        name="offline",
        adapter="qsim_example_plugin.adapter:ExampleAdapter",
        requirements=("qsim-example-plugin",),
        wheel_dir=str(wheels),
    )
    runtime = ensure_runtime(spec, tmp_path / "runtimes")
    assert (site_packages(runtime.path) / "qsim_example_plugin").is_dir()
    assert (runtime.path / "hashing" / "numba").resolve() == Path(numba.__file__).parent
    missing = replace(spec, requirements=("duckdb==1.1.3",), adapter="duckdb")
    with pytest.raises(EngineError, match=r"^engine offline: cannot install requirement 'duckdb"):
        ensure_runtime(missing, tmp_path / "runtimes")


def test_list_and_prune(tmp_path):
    keep = ensure_runtime(fake_spec("FakeEngineAdapter"), tmp_path)
    drop = ensure_runtime(fake_spec("FakeCrashAdapter"), tmp_path)
    half = tmp_path / "0123456789abcdef0123"
    half.mkdir()
    infos = {info.spec_hash: info for info in list_runtimes(tmp_path)}
    assert set(infos) == {keep.spec_hash, drop.spec_hash, half.name}
    assert infos[keep.spec_hash].complete and not infos[half.name].complete
    assert infos[keep.spec_hash].size_bytes > 1_000_000
    assert infos[keep.spec_hash].spec["adapter"].endswith(":FakeEngineAdapter")
    assert prune_runtimes(tmp_path, keep={keep.spec_hash}, older_than_days=1) == []
    os.utime(drop.path / ".last-used", (0, 0))
    removed = prune_runtimes(tmp_path, keep={keep.spec_hash}, older_than_days=1)
    assert [info.spec_hash for info in removed] == [drop.spec_hash]
    removed = prune_runtimes(tmp_path, keep={keep.spec_hash})
    assert [info.spec_hash for info in removed] == [half.name]
    assert [info.spec_hash for info in list_runtimes(tmp_path)] == [keep.spec_hash]
