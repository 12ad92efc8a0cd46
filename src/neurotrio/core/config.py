"""Typed configuration: dataclasses, YAML save/load, and ``key.sub=value`` overrides.

Example:
    >>> @dataclass
    ... class Train:
    ...     epochs: int = 50
    >>> load_config(Train, None, ["epochs=3"]).epochs
    3
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from neurotrio.core.errors import ConfigError, InputError
from neurotrio.core.io import atomic_write_text

T = TypeVar("T")


def to_dict(cfg: Any) -> dict[str, Any]:
    """A dataclass as plain YAML/JSON-safe values (tuples → lists, paths → str)."""

    def plain(v: Any) -> Any:
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            return {f.name: plain(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {str(k): plain(x) for k, x in v.items()}
        if isinstance(v, Path):
            return str(v)
        return v

    return plain(cfg)


def _field_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _unknown(cls: type, key: str) -> ConfigError:
    names = [f.name for f in dataclasses.fields(cls)]
    close = difflib.get_close_matches(key, names, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    return ConfigError(f"unknown config key '{key}' for {cls.__name__}. Known: {', '.join(names)}.{hint}")


def _coerce(tp: Any, value: Any, key: str) -> Any:
    """Convert a YAML value to the annotated type (nested dataclasses, tuples, Optional, Path)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        for a in args:
            try:
                return _coerce(a, value, key)
            except (ConfigError, TypeError, ValueError):
                continue
        raise ConfigError(f"config key '{key}': cannot read {value!r} as {tp}")
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"config key '{key}' needs a mapping, got {value!r}")
        return from_dict(tp, value, prefix=f"{key}.")
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            value = [value]
        args = typing.get_args(tp)
        inner = args[0] if args else Any
        items = [_coerce(inner, v, key) if inner is not Any else v for v in value]
        return tuple(items) if origin is tuple else items
    if origin is dict or tp is Any or origin is typing.Literal:
        if origin is typing.Literal and value not in typing.get_args(tp):
            raise ConfigError(f"config key '{key}' must be one of {typing.get_args(tp)}, got {value!r}")
        return value
    if tp is bool:
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
        if not isinstance(value, bool):
            raise ConfigError(f"config key '{key}' needs true/false, got {value!r}")
        return value
    if tp in (int, float, str, Path):
        try:
            if tp is int and isinstance(value, float) and not value.is_integer():
                raise ValueError
            return tp(value)
        except (TypeError, ValueError):
            raise ConfigError(f"config key '{key}' needs {tp.__name__}, got {value!r}") from None
    return value


def from_dict(cls: type[T], data: dict[str, Any], prefix: str = "") -> T:
    """Build ``cls`` from a mapping, rejecting unknown keys with a suggestion."""
    types_ = _field_types(cls)
    kwargs = {}
    for key, value in (data or {}).items():
        if key not in types_:
            raise _unknown(cls, prefix + key)
        kwargs[key] = _coerce(types_[key], value, prefix + key)
    return cls(**kwargs)


def apply_overrides(cfg: T, overrides: list[str] | tuple[str, ...]) -> T:
    """Return a copy of ``cfg`` with ``a.b=value`` overrides applied (values parsed as YAML)."""
    data = to_dict(cfg)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override '{item}' is not KEY=VALUE (KEY: a field of the run's config.yaml, "
                              "dots for nested fields)")
        key, raw = item.split("=", 1)
        node, cls = data, type(cfg)
        parts = key.strip().split(".")
        for i, part in enumerate(parts):
            if not dataclasses.is_dataclass(cls) or part not in _field_types(cls):
                raise _unknown(cls if dataclasses.is_dataclass(cls) else type(cfg), ".".join(parts[: i + 1]))
            if i == len(parts) - 1:
                node[part] = yaml.safe_load(raw) if raw.strip() else ""
            else:
                cls = _field_types(cls)[part]
                node = node[part]
    return from_dict(type(cfg), data)


def load_config(cls: type[T], path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> T:
    """Defaults, then a YAML file (if given), then overrides."""
    cfg = cls()
    if path is not None:
        p = Path(path)
        try:
            data = yaml.safe_load(p.read_text()) or {}
        except OSError as exc:
            raise InputError(p, f"cannot read config: {exc.strerror or exc}") from None
        except yaml.YAMLError as exc:  # its str() spans several lines, with the offending text and a caret
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
            raise InputError(p, f"not valid YAML{where}: {getattr(exc, 'problem', None) or exc}") from None
        if not isinstance(data, dict):
            raise InputError(p, "config file must hold a mapping of keys to values")
        cfg = from_dict(cls, data)
    return apply_overrides(cfg, list(overrides))


def save_config(cfg: Any, path: str | Path) -> Path:
    """Write the resolved config as YAML, atomically."""
    return atomic_write_text(path, yaml.safe_dump(to_dict(cfg), sort_keys=False))
