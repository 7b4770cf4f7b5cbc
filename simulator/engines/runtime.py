"""Isolated engine runtimes: one virtual environment per (adapter, requirements, Python).

A runtime is built with ``uv venv`` + ``uv pip install`` under a cache root (``runtimes/``
beside the ``simulator`` package, or ``$QSIM_RUNTIMES``) in a folder named by the hash of
its spec, and reused by every later run. Building takes an exclusive ``fcntl`` lock on
``ROOT/.locks/HASH.lock`` so two runs building the same spec wait for each other. A runtime
is complete when its marker file ``qsim-runtime.json`` (holding the spec) exists; on every
use its integrity is checked (marker, Python runs, the adapter imports) and a corrupt or
half-built runtime is rebuilt.

Canonical hashing's packages (numba, llvmlite, numpy, xxhash) are linked into the
runtime's ``hashing/`` folder from qsim's own environment (same interpreter, same
releases), not installed in its site-packages: a worker puts that folder on its path only
when it first checksums a large result. Were numpy in site-packages, pyarrow would import
it at every worker start and runtime probe (about 0.3-0.5 s each) whether or not the
worker ever hashed.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.metadata as metadata
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulator.config import EngineSpec
from simulator.engines.protocol import HASHING_PATH_ENV, PROTOCOL_VERSION
from simulator.engines.registry import check_adapter, runtime_requirements
from simulator.errors import EngineError

MARKER = "qsim-runtime.json"
# What canonical hashing needs inside every runtime (the worker checksums large results next
# to the engine): qsim's own installed copies, so the same kernels on both sides.
HASHING_PACKAGES = ("numba", "llvmlite", "numpy", "xxhash")
HASHING_FOLDER = "hashing"
LAST_USED = ".last-used"
SOURCE_ROOT = Path(__file__).resolve().parents[2]
_LOCAL_PREFIXES = ("./", "../", "/", "~", "file:")


@dataclass(frozen=True)
class Runtime:
    """A built runtime: its folder, interpreter, spec hash and installed requirements."""

    path: Path
    python: Path
    spec_hash: str
    requirements: tuple[str, ...]
    adapter: str

    def env(self) -> dict[str, str]:
        """Environment for processes run in this runtime: qsim's source on PYTHONPATH only."""
        env = {key: value for key, value in os.environ.items() if key != "VIRTUAL_ENV"}
        env["PYTHONPATH"] = str(SOURCE_ROOT)
        env["PYTHONNOUSERSITE"] = "1"
        # The worker's cwd is its workspace: never import modules from there.
        env["PYTHONSAFEPATH"] = "1"
        env[HASHING_PATH_ENV] = str(self.path / HASHING_FOLDER)
        return env


def default_root() -> Path:
    """``$QSIM_RUNTIMES`` if set, else ``runtimes/`` beside the ``simulator`` package."""
    return Path(os.environ.get("QSIM_RUNTIMES") or SOURCE_ROOT / "runtimes")


def _is_local(requirement: str) -> bool:
    return requirement.startswith(_LOCAL_PREFIXES)


def _tree_digest(folder: Path) -> str:
    # A local requirement is hashed by content so editing a plugin rebuilds its runtime.
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        parts = set(path.relative_to(folder).parts)
        if not path.is_file() or parts & {"build", "__pycache__", ".git"}:
            continue
        if any(part.endswith(".egg-info") for part in parts):
            continue
        digest.update(str(path.relative_to(folder)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def hashing_requirements() -> tuple[str, ...]:
    """``HASHING_PACKAGES`` at the releases installed beside qsim (in the spec: a runtime
    is rebuilt, and relinked, when qsim's releases change)."""
    return tuple(f"{name}=={metadata.version(name)}" for name in HASHING_PACKAGES)


def resolve_requirements(spec: EngineSpec) -> tuple[tuple[str, ...], dict[str, str]]:
    """Requirements to install (local paths made absolute) and a digest per local path.

    Refuses a local path that is not a folder with an EngineError naming the engine.
    """
    resolved: list[str] = []
    digests: dict[str, str] = {}
    for requirement in runtime_requirements(spec.adapter, tuple(spec.requirements)):
        if _is_local(requirement):
            folder = Path(requirement.removeprefix("file:")).expanduser().resolve()
            if not folder.is_dir():
                raise EngineError(
                    f"engine {spec.name}: requirement {requirement!r} is not a folder"
                )
            resolved.append(str(folder))
            digests[str(folder)] = _tree_digest(folder)
        else:
            resolved.append(requirement)
    return tuple(resolved), digests


def runtime_spec(spec: EngineSpec) -> dict[str, Any]:
    """The content that identifies a runtime (what its hash is computed from)."""
    requirements, digests = resolve_requirements(spec)
    return {
        "adapter": spec.adapter,
        "requirements": list(requirements),
        "hashing": list(hashing_requirements()),
        "local_digests": digests,
        "wheel_dir": str(Path(spec.wheel_dir).resolve()) if spec.wheel_dir else "",
        "python": platform.python_version(),
        "implementation": sys.implementation.name,
        "machine": platform.machine(),
        "protocol": PROTOCOL_VERSION,
    }


def spec_hash(content: dict[str, Any]) -> str:
    """The hash naming a runtime folder."""
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:20]


def _uv() -> str:
    try:
        from uv import find_uv_bin
    except ImportError:
        raise EngineError("the 'uv' package is not installed in qsim's environment") from None
    return find_uv_bin()


def _uv_failure(engine: str, requirements: tuple[str, ...], stderr: str) -> EngineError:
    """One line naming the engine and the requirement uv could not install."""
    lines = [re.sub(r"^[\s×╰─▶|:]+(cause:)?", "", line).strip() for line in stderr.splitlines()]
    lines = [line for line in lines if line and not line.startswith("Using ")]
    lowered = stderr.lower()
    culprit = ""
    for requirement in requirements:
        name = re.split(r"[\s\[<>=!~;@]", Path(requirement).name, maxsplit=1)[0].lower()
        if name and name in lowered:
            culprit = requirement
            break
    reason = next(
        (line for line in lines if "because" in line.lower() or "not found" in line.lower()),
        lines[-1] if lines else "uv failed without a message",
    )
    what = f"requirement {culprit!r}" if culprit else f"requirements {list(requirements)}"
    return EngineError(f"engine {engine}: cannot install {what}: {reason}")


def _build(folder: Path, spec: EngineSpec, content: dict[str, Any]) -> None:
    if folder.exists():
        shutil.rmtree(folder)
    uv = _uv()
    env = {key: value for key, value in os.environ.items() if key != "VIRTUAL_ENV"}
    env["UV_PYTHON_DOWNLOADS"] = "never"
    created = subprocess.run(
        [uv, "venv", "--quiet", "--python", sys.executable, str(folder)],
        capture_output=True,
        text=True,
        env=env,
    )
    if created.returncode != 0:
        raise EngineError(
            f"engine {spec.name}: cannot create a runtime in {folder}: "
            f"{created.stderr.strip().splitlines()[-1:]}"
        )
    requirements = tuple(content["requirements"])
    command = [uv, "pip", "install", "--quiet", "--python", str(folder / "bin" / "python")]
    if content["wheel_dir"]:
        command += ["--no-index", "--find-links", content["wheel_dir"]]
    installed = subprocess.run([*command, *requirements], capture_output=True, text=True, env=env)
    if installed.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        raise _uv_failure(spec.name, requirements, installed.stderr)
    try:
        _link_hashing(folder / HASHING_FOLDER)
    except (OSError, metadata.PackageNotFoundError) as err:
        shutil.rmtree(folder, ignore_errors=True)
        raise EngineError(f"engine {spec.name}: cannot link canonical hashing: {err}") from None
    marker = {"spec": content, "spec_hash": folder.name, "built_at": time.time()}
    (folder / MARKER).write_text(json.dumps(marker, indent=2, sort_keys=True))


def _link_hashing(target: Path) -> None:
    """``target`` made to hold ``HASHING_PACKAGES`` as links to the copies installed beside
    qsim (the runtime's Python is qsim's, so they load as they are): the worker hashes
    with exactly qsim's kernels, and building a runtime costs no install or compile."""
    target.mkdir()
    for name in HASHING_PACKAGES:
        distribution = metadata.distribution(name)
        # Top-level entries of its RECORD: the package, its dist-info, vendored *.libs;
        # "../" entries are scripts in bin/.
        tops = {
            Path(str(entry)).parts[0]
            for entry in distribution.files or ()
            if not str(entry).startswith("..")
        }
        if not tops:
            raise OSError(f"{name} lists no files (its RECORD is missing)")
        for top in sorted(tops):
            (target / top).symlink_to(Path(str(distribution.locate_file(top))))


def _probe(runtime: Runtime, engine: str) -> str:
    """Empty when the runtime's Python runs and imports pyarrow and the adapter, and its
    hashing folder holds canonical hashing's packages (not imported: that is the worker's
    first large result); else why."""
    code = (
        "import sys, pyarrow, importlib.machinery\n"
        "from simulator.engines.registry import load_factory\n"
        f"for name in {HASHING_PACKAGES!r}:\n"
        "    if importlib.machinery.PathFinder.find_spec(name, [sys.argv[3]]) is None:\n"
        "        sys.stderr.write(f'its hashing folder lacks {name} (canonical hashing)')\n"
        "        sys.exit(4)\n"
        "try:\n"
        "    load_factory(sys.argv[1], sys.argv[2])\n"
        "except Exception as err:\n"
        "    sys.stderr.write(str(err))\n"
        "    sys.exit(3)\n"
    )
    hashing = str(runtime.path / HASHING_FOLDER)
    try:
        probe = subprocess.run(
            [str(runtime.python), "-c", code, runtime.adapter, engine, hashing],
            capture_output=True,
            text=True,
            env=runtime.env(),
            timeout=120,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"its Python does not run ({err})"
    if probe.returncode == 0:
        return ""
    if probe.returncode == 3:
        return f"{probe.stderr.strip()} (runtime {runtime.spec_hash})"
    if probe.returncode == 4:
        return probe.stderr.strip()
    lines = probe.stderr.strip().splitlines()
    return lines[-1] if lines else f"probe exited with code {probe.returncode}"


def _marker_ok(folder: Path, content: dict[str, Any]) -> bool:
    try:
        marker = json.loads((folder / MARKER).read_text())
    except (OSError, ValueError):
        return False
    return marker.get("spec") == content and (folder / "bin" / "python").exists()


def ensure_runtime(spec: EngineSpec, root: Path | None = None) -> Runtime:
    """The runtime of ``spec``, built on first use and rebuilt when missing or corrupt.

    Raises EngineError (one line naming the engine) for an unknown adapter, a requirement
    that cannot be installed, or an adapter that does not import in its runtime.
    """
    check_adapter(spec.adapter, spec.name)
    root = Path(root) if root is not None else default_root()
    content = runtime_spec(spec)
    digest = spec_hash(content)
    folder = root / digest
    runtime = Runtime(
        path=folder,
        python=folder / "bin" / "python",
        spec_hash=digest,
        requirements=tuple(content["requirements"]),
        adapter=spec.adapter,
    )
    (root / ".locks").mkdir(parents=True, exist_ok=True)
    with open(root / ".locks" / f"{digest}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        fresh = False
        if not _marker_ok(folder, content):
            _build(folder, spec, content)
            fresh = True
        problem = _probe(runtime, spec.name)
        if problem and not fresh:
            _build(folder, spec, content)
            problem = _probe(runtime, spec.name)
        if problem.startswith(f"engine {spec.name}: "):
            raise EngineError(problem)
        if problem:
            raise EngineError(f"engine {spec.name}: runtime {digest} is unusable: {problem}")
        (folder / LAST_USED).touch()
    return runtime


@dataclass(frozen=True)
class RuntimeInfo:
    """A runtime folder as ``qsim engines list`` shows it."""

    spec_hash: str
    path: Path
    complete: bool
    spec: dict[str, Any]
    size_bytes: int
    last_used: float


def _size(folder: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                continue
    return total


def list_runtimes(root: Path | None = None) -> list[RuntimeInfo]:
    """Every runtime folder under ``root``, newest use first."""
    root = Path(root) if root is not None else default_root()
    if not root.is_dir():
        return []
    infos = []
    for folder in sorted(root.iterdir()):
        if not folder.is_dir() or folder.name.startswith("."):
            continue
        try:
            spec = json.loads((folder / MARKER).read_text()).get("spec", {})
            complete = True
        except (OSError, ValueError):
            spec, complete = {}, False
        used = folder / LAST_USED
        last_used = used.stat().st_mtime if used.exists() else folder.stat().st_mtime
        infos.append(RuntimeInfo(folder.name, folder, complete, spec, _size(folder), last_used))
    return sorted(infos, key=lambda info: info.last_used, reverse=True)


def prune_runtimes(
    root: Path | None = None,
    keep: set[str] | None = None,
    older_than_days: float | None = None,
) -> list[RuntimeInfo]:
    """Remove runtimes not in ``keep`` (spec hashes) and/or unused for ``older_than_days``.

    With both given, a runtime is removed when it is not kept AND is old enough. Returns
    what was removed. Each removal holds the runtime's build lock.
    """
    root = Path(root) if root is not None else default_root()
    now = time.time()
    removed = []
    (root / ".locks").mkdir(parents=True, exist_ok=True)
    for info in list_runtimes(root):
        if keep is not None and info.spec_hash in keep:
            continue
        if older_than_days is not None and now - info.last_used < older_than_days * 86400:
            continue
        with open(root / ".locks" / f"{info.spec_hash}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            shutil.rmtree(info.path, ignore_errors=True)
        removed.append(info)
    return removed
