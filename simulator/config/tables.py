"""TOML tables to typed, frozen dataclasses: the one conversion every config section goes
through. Lists become tuples where the field says so; a wrong type or an unknown key is
one ``ConfigError`` line naming the dotted key."""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

from simulator.errors import ConfigError


def _convert(value: Any, tp: Any, where: str) -> Any:
    """Check ``value`` against the annotation ``tp`` and convert lists to tuples."""
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a table, got {value!r}")
        return build_table(tp, value, where)
    if tp is Any:
        return value
    if origin in (tuple, list):
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        args = [a for a in typing.get_args(tp) if a is not Ellipsis]
        inner = args[0] if args else Any
        items = [_convert(v, inner, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a table, got {value!r}")
        args = typing.get_args(tp)
        inner = args[1] if len(args) == 2 else Any
        return {k: _convert(v, inner, f"{where}.{k}") for k, v in value.items()}
    if isinstance(origin, type) and origin is types.UnionType:
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    return value


def build_table(
    cls: type, data: dict[str, Any], where: str, not_keys: set[str] | frozenset[str] = frozenset()
) -> Any:
    """Build dataclass ``cls`` from a TOML table at dotted key ``where``, refusing unknown
    keys (and the fields in ``not_keys``, set by the caller) and wrong types with one line
    naming the key. Nested dataclass fields are built from nested tables."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)} - set(not_keys)
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in names:
            known = ", ".join(sorted(names))
            raise ConfigError(f"{where}.{key}: unknown key (known keys: {known})")
        kwargs[key] = _convert(value, hints[key], f"{where}.{key}")
    return cls(**kwargs)
