"""Hyperparameter dataclasses: defaults <- preset <- user params, type-checked."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from typing import Any

from pydantic import TypeAdapter, ValidationError

from harness.errors import short


class ParamsError(ValueError):
    """Bad parameters; ``key`` is the offending field (empty when not one field)."""

    def __init__(self, key: str, message: str):
        self.key = key
        super().__init__(message)


#: Field metadata keys that declare a range; pydantic enforces them (``metadata={"doc": ..., "gt": 0}``).
BOUNDS = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}


def field_docs(params_class: type) -> dict[str, str]:
    """Field name -> its documentation (``metadata["doc"]``), with its declared range if any."""
    docs = {}
    for f in dataclasses.fields(params_class):
        bounded = any(key in f.metadata for key in BOUNDS)
        docs[f.name] = f.metadata.get("doc", "") + (f" ({declared_range(params_class, f.name)})" if bounded else "")
    return docs


def preset_overrides(
    presets: Mapping[str, Mapping[str, Mapping[str, Any]]], preset: str | None, env_name: str
) -> dict[str, Any]:
    """The overrides a preset gives for one environment (``"*"`` applies to all)."""
    if preset is None:
        return {}
    if preset not in presets:
        raise ParamsError("preset", f"unknown preset {preset!r} (allowed: {', '.join(sorted(presets)) or 'none'})")
    table = presets[preset]
    if env_name not in table and "*" not in table:
        envs = ", ".join(sorted(k for k in table if k != "*"))
        raise ParamsError("preset", f"preset {preset!r} has no entry for {env_name!r} (has: {envs})")
    return {**table.get("*", {}), **table.get(env_name, {})}


def build_params(params_class: type, overrides: Mapping[str, Any]) -> Any:
    """An instance of ``params_class`` with ``overrides`` applied and type-checked.

    Strict: a string or boolean is never taken for a number, NaN and infinities are
    refused, and the ranges the fields declare in their metadata are enforced.
    """
    names = [f.name for f in dataclasses.fields(params_class)]
    for key, value in overrides.items():
        if key not in names:
            raise ParamsError(key, f"unknown parameter {short(key)} (allowed: {', '.join(names)})")
        if not _finite(value):
            raise ParamsError(key, f"{key} must be a finite number (got {short(value)})")
    missing = [name for name in required_fields(params_class) if name not in overrides]
    if missing:
        raise ParamsError(missing[0], f"required parameter (no default in {params_class.__name__}): "
                                      f"set {missing[0]} in params or in a preset")
    data = dict(overrides)
    try:
        # JSON mode is pydantic's strict mode that still takes TOML arrays for tuple fields.
        text = json.dumps(data, default=_not_toml)
        return TypeAdapter(params_class).validate_json(text, strict=True)
    except TypeError as error:
        raise ParamsError("", str(error)) from None
    except ValidationError as error:
        first = error.errors()[0]
        if first["type"] == "json_invalid":  # pydantic's parser gave up on deep nesting
            raise ParamsError("", "nested too deeply") from None
        if not first["loc"]:  # raised by the dataclass's own __post_init__ check
            raise ParamsError("", str(first.get("ctx", {}).get("error", first["msg"]))) from None
        key, value = str(first["loc"][0]), short(_input(first, data))
        if first["type"] in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
            raise ParamsError(key, f"{key} must be {declared_range(params_class, key)} (got {value})") from None
        raise ParamsError(key, f"{first['msg']} (got {value})") from None


def declared_range(params_class: type, name: str) -> str:
    """The range a field declares, as text: ``> 0``, ``in [0, 1]``, ``in (0, 1]``."""
    meta = next(f.metadata for f in dataclasses.fields(params_class) if f.name == name)
    low = ("(", meta["gt"]) if "gt" in meta else ("[", meta["ge"]) if "ge" in meta else None
    high = (")", meta["lt"]) if "lt" in meta else ("]", meta["le"]) if "le" in meta else None
    if low and high:
        return f"in {low[0]}{low[1]}, {high[1]}{high[0]}"
    return " ".join(f"{BOUNDS[key]} {meta[key]}" for key in BOUNDS if key in meta)


def _finite(value: Any) -> bool:
    """False when ``value`` is or holds a NaN or an infinity."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, Mapping):
        return all(_finite(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return all(_finite(v) for v in value)
    return True


def _not_toml(value: Any) -> Any:
    raise TypeError(f"unsupported value {short(value)} (parameters are numbers, strings, booleans, lists, tables)")


def _input(error: Any, data: Mapping[str, Any]) -> Any:
    """The value the user gave at the error's location (JSON mode reports it re-parsed)."""
    value: Any = data
    for part in error["loc"]:
        try:
            value = value[part]
        except (KeyError, IndexError, TypeError):
            return error.get("input")
    return value


def required_fields(params_class: type) -> list[str]:
    """Fields without a default: a suite (or preset) must set them."""
    missing = dataclasses.MISSING
    return [f.name for f in dataclasses.fields(params_class) if f.default is missing and f.default_factory is missing]


def params_dict(params: Any) -> dict[str, Any]:
    return dataclasses.asdict(params)


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}`` (for MLflow params)."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out
