"""The package layout is the pipeline: no module of ``simulator`` imports a later stage.

Every ``import`` and ``from ... import`` anywhere in a module counts, function-level and
``TYPE_CHECKING`` ones included (an import hidden in a function to dodge a cycle is still a
dependency). A stage may import itself and any stage before it in ``STAGES``. Stages listed
here but not present yet (packages being created on other branches) are tolerated; a
top-level module or package missing from ``STAGES`` fails, so new code must be placed.
"""

from __future__ import annotations

import ast
from pathlib import Path

import simulator

# Lowest first. ``__main__`` counts as ``cli``.
STAGES = [
    "errors",
    "progress",
    "config",
    "canonical",
    "datasets",
    "workload",
    "engines",
    "results",
    "compare",
    "runner",
    "report",
    "jobs",
    "serve",
    "selftest",
    "cli",
]

# Known violations, as (importing module, imported module): none. An entry that no longer
# matches a real import fails the test, so the list can only shrink.
ALLOWED: set[tuple[str, str]] = set()

# Fact tables: modules that import nothing of qsim but ``errors``, so any stage may read
# them without pulling in the stage they belong to (checked below).
FACT_TABLES = {
    # Built-in adapter names and runtime requirements; config validates ``adapter`` keys
    # against it, and the worker imports it inside isolated runtimes.
    "simulator.engines.registry",
}

PACKAGE_ROOT = Path(simulator.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imported_modules(path: Path, module: str) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in ``path``, relative ones resolved;
    ``from simulator import x`` names ``simulator.x``."""
    is_package = path.name == "__init__.py"
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = module.split(".") if is_package else module.split(".")[:-1]
                base = package[: len(package) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if target == "simulator":
                found += [(node.lineno, f"simulator.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, target))
    return found


def _stage(module: str) -> str | None:
    """The stage a ``simulator`` module belongs to; None for the root package itself."""
    parts = module.split(".")
    if parts[0] != "simulator" or len(parts) < 2:
        return None
    return "cli" if parts[1] == "__main__" else parts[1]


def _layering() -> tuple[list[str], set[tuple[str, str]], list[str]]:
    """(violations not allowed, allow-list entries seen, modules outside every stage)."""
    rank = {stage: i for i, stage in enumerate(STAGES)}
    violations, seen, unplaced = [], set(), []
    for path in sorted(PACKAGE_ROOT.rglob("*.py")):
        module = _module_name(path)
        stage = _stage(module)
        if stage is None:
            continue
        if stage not in rank:
            unplaced.append(module)
            continue
        for line, target in _imported_modules(path, module):
            target_stage = _stage(target)
            if (
                target in FACT_TABLES
                or target_stage is None
                or rank.get(target_stage, -1) <= rank[stage]
            ):
                continue
            key = (module, f"simulator.{target_stage}")
            if key in ALLOWED:
                seen.add(key)
            else:
                violations.append(
                    f"{path.relative_to(PACKAGE_ROOT.parent)}:{line}: {stage} imports {target}"
                )
    return violations, seen, unplaced


def test_no_module_imports_a_later_stage():
    violations, _, _ = _layering()
    assert violations == [], "imports of a later pipeline stage:\n" + "\n".join(violations)


def test_every_allowed_violation_still_exists():
    _, seen, _ = _layering()
    stale = sorted(ALLOWED - seen)
    assert stale == [], f"fixed, remove from ALLOWED in tests/test_layers.py: {stale}"


def test_every_module_belongs_to_a_stage():
    _, _, unplaced = _layering()
    assert unplaced == [], f"place these in STAGES (tests/test_layers.py): {unplaced}"


def test_canonical_hashing_imports_only_errors():
    # The bottom layer of the checksums: no configuration, no progress bars, nothing above.
    package = PACKAGE_ROOT / "canonical"
    for path in package.rglob("*.py"):
        for line, target in _imported_modules(path, _module_name(path)):
            if target.startswith("simulator") and not target.startswith(
                ("simulator.canonical", "simulator.errors")
            ):
                raise AssertionError(f"{path.name}:{line} imports {target}")


def test_fact_tables_import_only_errors():
    for module in FACT_TABLES:
        path = PACKAGE_ROOT.parent / (module.replace(".", "/") + ".py")
        for line, target in _imported_modules(path, module):
            if target.startswith("simulator") and target != "simulator.errors":
                raise AssertionError(f"{module}:{line} imports {target}")


def test_the_checker_sees_function_level_and_relative_imports(tmp_path):
    # The known cycle dodge: report/nightly.py imports the runner inside a function.
    source = "def f():\n    from simulator.runner.run import execute_run\nfrom ..compare import x\n"
    path = tmp_path / "mod.py"
    path.write_text(source)
    imports = sorted(_imported_modules(path, "simulator.datasets.mod"))
    assert imports == [(2, "simulator.runner.run"), (3, "simulator.compare")]
