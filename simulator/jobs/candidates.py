"""``--candidate SPEC`` of ``qsim nightly`` and ``qsim replay``: choose, override or add the
candidate engines of a run config.

SPEC forms:

- ``NAME``: an engine the config declares, used as declared;
- ``NAME=REQUIREMENT`` (``rc=duckdb==2.0.1``): engine NAME with that requirement; an engine
  the config declares keeps its adapter and settings, a new one copies the baseline's;
- ``REQUIREMENT`` (``duckdb==2.0.1``): a new engine named after it (``duckdb-2.0.1``).

The config is rebuilt through ``parse_config`` from its raw TOML, so the run records
exactly what ran (run.json's ``config`` shows the overridden engines).
"""

from __future__ import annotations

import copy
import re
from typing import Any

from simulator.config import BUILTIN_ADAPTERS, RunConfig, check_name, parse_config
from simulator.errors import ConfigError

_REQUIREMENT = re.compile(
    r"^(?P<package>[A-Za-z0-9][A-Za-z0-9_.\-]*)(?:\[[A-Za-z0-9_,\-]+\])?"
    r"\s*(?:(?P<op>==|>=|<=|~=|!=|>|<)\s*(?P<version>[A-Za-z0-9_.+\-*]+))?$"
)


def _requirement(text: str, spec: str) -> re.Match[str]:
    match = _REQUIREMENT.match(text.strip())
    if match is None:
        raise ConfigError(
            f"--candidate {spec!r}: {text!r} is not a requirement like 'duckdb==2.0.1'"
        )
    return match


def _new_engine(raw: dict[str, Any], baseline: str, requirement: re.Match[str]) -> dict[str, Any]:
    """A new engine table: the baseline's settings, the requirement's package as adapter
    when it is a built-in one."""
    engine = copy.deepcopy(raw["engines"][baseline])
    engine.pop("faults", None)
    package = requirement.group("package").lower().replace("_", "-")
    if package in BUILTIN_ADAPTERS:
        engine["adapter"] = package
        engine["dialect"] = package
    return engine


def with_candidates(cfg: RunConfig, specs: list[str]) -> RunConfig:
    """Return ``cfg`` whose candidates are exactly the engines ``specs`` name, in order.

    Refuses (ConfigError, one line) a malformed spec, an unknown engine NAME without a
    requirement, the baseline as a candidate, and the same candidate twice.
    """
    if not specs:
        return cfg
    raw = copy.deepcopy(cfg.raw)
    raw.setdefault("engines", {})
    baseline = cfg.run.baseline
    names: list[str] = []
    for spec in specs:
        name, _, requirement_text = spec.partition("=")
        if requirement_text.startswith("="):
            # "duckdb==2.0.1" split at its first '=': a bare requirement, no NAME.
            name, requirement_text = "", spec
        name = name.strip()
        if not requirement_text:
            if name not in raw["engines"]:
                declared = ", ".join(sorted(raw["engines"]))
                raise ConfigError(
                    f"--candidate {spec!r}: no engine {name!r} in {cfg.path} (declared: "
                    f"{declared}); give NAME=REQUIREMENT to add one"
                )
        else:
            requirement = _requirement(requirement_text, spec)
            if not name:
                version = requirement.group("version") or "latest"
                name = f"{requirement.group('package')}-{version}".replace("*", "x")
            if name in raw["engines"]:
                engine = raw["engines"][name]
            else:
                engine = _new_engine(raw, baseline, requirement)
                raw["engines"][name] = engine
            engine["requirements"] = [requirement_text.strip()]
            engine["version"] = (
                requirement.group("version") if requirement.group("op") == "==" else ""
            )
        try:
            check_name(name, f"--candidate {spec!r}")
        except ConfigError as err:
            raise ConfigError(str(err)) from None
        if name == baseline:
            raise ConfigError(f"--candidate {spec!r}: {name!r} is the baseline of {cfg.path}")
        if name in names:
            raise ConfigError(f"--candidate {spec!r}: candidate {name!r} is listed twice")
        names.append(name)
    raw.setdefault("run", {})["candidates"] = names
    return parse_config(raw, cfg.path)
