"""Adapter names -> factories, and what each built-in adapter's runtime must install.

Imported inside engine runtimes (stdlib only). ``adapter`` in an engine declaration is a
built-in name (``duckdb``, ``sqlite``, ``datafusion``, ``postgres``) or a plugin reference
``package.module:Factory``; :func:`load_factory` resolves either inside the worker process.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from typing import Any

from simulator.errors import EngineError

BUILTIN_ADAPTERS: dict[str, str] = {
    "duckdb": "simulator.engines.adapters.duckdb:DuckDBAdapter",
    "sqlite": "simulator.engines.adapters.sqlite:SQLiteAdapter",
    "datafusion": "simulator.engines.adapters.datafusion:DataFusionAdapter",
    "postgres": "simulator.engines.adapters.postgres:PostgresAdapter",
}

# Installed in the adapter's runtime whatever the engine declares (client libraries).
BASE_REQUIREMENTS: dict[str, tuple[str, ...]] = {
    "duckdb": (),
    "sqlite": (),
    "datafusion": (),
    "postgres": ("psycopg[binary]>=3.2",),
}

# Installed when an engine declares no requirements at all: the newest release.
DEFAULT_REQUIREMENTS: dict[str, tuple[str, ...]] = {
    "duckdb": ("duckdb",),
    "datafusion": ("datafusion",),
}

# What every runtime needs to run the worker itself.
WORKER_REQUIREMENTS: tuple[str, ...] = ("pyarrow>=14",)

PLUGIN_RE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


def check_adapter(adapter: str, engine: str = "") -> str:
    """Return ``adapter`` if it is a built-in name or a ``package.module:Factory`` reference.

    Refuses anything else with an EngineError naming the engine. Does not import anything.
    """
    if adapter in BUILTIN_ADAPTERS or PLUGIN_RE.match(adapter):
        return adapter
    raise EngineError(
        f"engine {engine or '?'}: unknown adapter {adapter!r} "
        f"(built-in: {', '.join(BUILTIN_ADAPTERS)}; plugins use 'package.module:Factory')"
    )


def runtime_requirements(adapter: str, requirements: tuple[str, ...]) -> tuple[str, ...]:
    """Every requirement an adapter's runtime installs: declared (or default), base, worker."""
    declared = requirements or DEFAULT_REQUIREMENTS.get(adapter, ())
    return (*declared, *BASE_REQUIREMENTS.get(adapter, ()), *WORKER_REQUIREMENTS)


def load_factory(adapter: str, engine: str = "") -> Callable[[], Any]:
    """Import and return the factory of ``adapter`` (a callable returning an EngineAdapter).

    Raises EngineError naming the engine when the module does not import or has no such
    attribute.
    """
    reference = BUILTIN_ADAPTERS.get(check_adapter(adapter, engine), adapter)
    module_name, _, attribute = reference.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as err:
        raise EngineError(
            f"engine {engine or '?'}: adapter {adapter!r} does not import: "
            f"{type(err).__name__}: {err}"
        ) from None
    factory = getattr(module, attribute, None)
    if not callable(factory):
        raise EngineError(
            f"engine {engine or '?'}: adapter {adapter!r}: module {module_name!r} has no "
            f"callable {attribute!r}"
        )
    return factory
